package paddock

// This file is where the client meets the protocol features that arrive
// with the sdk-protocol branch (idempotency keys, a multi-based
// SubmitMany). Until that branch is merged, coord has neither KeyName,
// DuplicateKeyError nor SubmitMany; each stand-in below is one small
// function written against their contract, with the code that replaces
// it at the merge next to it.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/zkclient"
)

// keysSupported says whether coord honours Spec.Key (writes the key znode
// and reports a taken key); the tests of idempotency skip until it does.
//
// TODO(merge sdk-protocol): true.
const keysSupported = false

// keyName is the znode name of an idempotency key: the hex SHA-256 of the
// caller's key, so that any string can be a key.
//
// TODO(merge sdk-protocol): return coord.KeyName(key)
func keyName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// duplicateOf reports whether err says that the submission's key is
// taken, and by which task.
//
// TODO(merge sdk-protocol):
//
//	var dup *coord.DuplicateKeyError
//	if errors.As(err, &dup) {
//		return dup.ID, true
//	}
//	return "", false
func duplicateOf(err error) (task.ID, bool) {
	_ = err
	return "", false
}

// submitAll writes subs and returns each one's error (nil: submitted).
// Today each goes in its own multi, many in flight; a submission not
// started when ctx ends gets ctx's error.
//
// TODO(merge sdk-protocol): one call to coord's SubmitMany:
//
//	items := make([]coord.Submission, len(subs))
//	for i, s := range subs {
//		items[i] = coord.Submission{ID: s.id, Spec: s.spec, Payload: s.payload}
//	}
//	errs, err := q.SubmitMany(ctx, items)
//	if errs == nil {
//		errs = make([]error, len(subs))
//	}
//	for i := range errs {
//		if errs[i] == nil && err != nil {
//			errs[i] = err // the batch failed as a whole
//		}
//	}
//	return errs
func submitAll(ctx context.Context, q *coord.Queue, subs []submission) []error {
	errs := make([]error, len(subs))
	_ = zkclient.Pipeline(len(subs), func(i int) error {
		if errs[i] = ctx.Err(); errs[i] == nil {
			errs[i] = q.Submit(ctx, subs[i].id, subs[i].spec, subs[i].payload)
		}
		return nil
	})
	return errs
}
