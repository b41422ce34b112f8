package recipe

// Role Match's applicant: the state machine behind RoleMatch.Apply (queue,
// claim at the front, hold, release, apply again). The API, the layout and
// the rules are in rolematch.go.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// Apply makes the caller an applicant named id until ctx ends: it waits in
// the applicants queue; at the front, it waits for an open role and claims
// it (leaving the queue), then calls hold with a context that is cancelled
// when the role is lost, context.Cause saying why (ErrRoleRemoved,
// ErrHolderDeleted, ErrDisconnected, ErrSessionLost, ErrApplyStopped).
// Apply waits for hold to return before it does anything else, and calls
// hold only for a role whose holder znode it created on its live session
// (or, after ErrDisconnected, found still its own on the same session).
// When hold returns, Apply releases the role (deletes the holder znode if
// it is still its own) and applies again, at the back of the queue. After
// a session expiry it applies again on the new session.
//
// It returns ctx's error once ctx ends (after releasing any role), and
// ErrClosed when the client is closed.
func (rm *RoleMatch) Apply(ctx context.Context, id string, hold func(ctx context.Context, r Role)) error {
	member, err := json.Marshal(Self(id))
	if err != nil {
		return err
	}
	if err := ensurePath(ctx, rm.c, rm.HoldersDir()); err != nil {
		return err
	}
	a := &applicant{rm: rm, c: rm.c, id: id, member: member, hold: hold, view: newRoleView(),
		cache: map[int64]roleItem{}, bad: map[int64]bool{}}
	// The bag's watcher is Apply's own: stopped, and waited for, on return.
	wctx, stopWatch := context.WithCancel(ctx)
	initial, watching, err := rm.bag.watch(wctx, a.view.add, a.view.remove)
	if err != nil {
		stopWatch()
		return err
	}
	defer func() {
		stopWatch()
		<-watching
	}()
	a.view.init(initial)
	for {
		err := a.round(ctx)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil, errors.Is(err, ErrSessionLost), errors.Is(err, ErrCandidacyLost):
		default:
			return err
		}
	}
}

// roleView is the set of item ids in the bag, kept by the bag's watcher.
type roleView struct {
	mu      sync.Mutex
	ids     map[int64]bool
	early   map[int64]bool // removed before init
	ready   bool
	changed chan struct{}
}

func newRoleView() *roleView {
	return &roleView{ids: map[int64]bool{}, early: map[int64]bool{}, changed: make(chan struct{})}
}

func (v *roleView) wakeLocked() {
	close(v.changed)
	v.changed = make(chan struct{})
}

// init adds the ids Watch returned. The watcher may have reported changes
// already: an id removed then is not added (ids are never reused).
func (v *roleView) init(ids []int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, id := range ids {
		if !v.early[id] {
			v.ids[id] = true
		}
	}
	v.early, v.ready = nil, true
	v.wakeLocked()
}

func (v *roleView) add(id int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.ids[id] = true
	v.wakeLocked()
}

func (v *roleView) remove(id int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.ready {
		v.early[id] = true
	}
	delete(v.ids, id)
	v.wakeLocked()
}

func (v *roleView) has(id int64) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.ids[id]
}

// snapshot returns the ids, sorted.
func (v *roleView) snapshot() []int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	ids := make([]int64, 0, len(v.ids))
	for id := range v.ids {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// next returns a channel closed at the next change.
func (v *roleView) next() <-chan struct{} {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.changed
}

// applicant is one Apply: one goroutine runs it.
type applicant struct {
	rm     *RoleMatch
	c      *zkclient.Client
	id     string
	member []byte
	hold   func(context.Context, Role)
	view   *roleView
	cache  map[int64]roleItem // items read so far (items never change)
	bad    map[int64]bool     // ids found gone or unreadable
}

// round is one candidacy: queue, claim at the front, hold.
func (a *applicant) round(ctx context.Context) error {
	sess, err := a.c.Session(ctx)
	if err != nil {
		return err
	}
	cand, err := NewLeaderQueue(a.c, a.rm.ApplicantsDir()).Join(ctx, sess, a.member)
	if err != nil {
		return err
	}
	if err := cand.Lead(ctx, nil); err != nil {
		discard(a.c, cand.Key())
		return err
	}
	r, err := a.claim(ctx, sess, cand)
	if err != nil {
		discard(a.c, cand.Key())
		return err
	}
	return a.holdRole(ctx, sess, r)
}

// claim waits, at the front of the queue, for an open role and claims it.
// It wakes on a change of the bag (the watcher's callbacks) or of holders/
// (a child watch): never on a timer.
func (a *applicant) claim(ctx context.Context, sess *zkclient.Session, cand *Candidate) (Role, error) {
	gone := watchHeld(ctx, a.c, sess, cand.Key())
	defer gone.Stop()
	for {
		if !sess.Alive() {
			return Role{}, ErrSessionLost
		}
		changed := a.view.next()
		held, _, hch, err := a.c.ChildrenW(ctx, a.rm.HoldersDir())
		if errors.Is(err, zk.ErrNoNode) {
			err = ensurePath(ctx, a.c, a.rm.HoldersDir())
			if err == nil {
				continue
			}
		}
		if err != nil {
			if err := a.c.RetryIn(ctx, sess, err); err != nil {
				return Role{}, err
			}
			continue
		}
		roles, err := a.roles(ctx, sess)
		if err != nil {
			return Role{}, err
		}
		tried := false
		for _, r := range roles {
			if slices.Contains(held, r.Name) {
				continue
			}
			tried = true
			token, err := a.tryClaim(ctx, sess, cand, r)
			if err == nil {
				r.Token = token
				return r, nil
			}
			if !errors.Is(err, errNotClaimed) {
				return Role{}, err
			}
			break // look again: holders/ or the bag changed
		}
		if tried {
			continue
		}
		select {
		case <-hch:
		case <-changed:
		case <-gone.Done():
			if !sess.Alive() {
				return Role{}, ErrSessionLost
			}
			return Role{}, ErrCandidacyLost
		case <-sess.Done():
			return Role{}, ErrSessionLost
		case <-ctx.Done():
			return Role{}, ctx.Err()
		}
	}
}

// roles returns the bag's roles as the watcher last saw them, reading the
// items not read yet.
func (a *applicant) roles(ctx context.Context, sess *zkclient.Session) ([]Role, error) {
	ids := a.view.snapshot()
	for {
		var missing []int64
		for _, id := range ids {
			if _, ok := a.cache[id]; !ok && !a.bad[id] {
				missing = append(missing, id)
			}
		}
		items := make([]*roleItem, len(missing))
		err := zkclient.Pipeline(len(missing), func(i int) error {
			data, _, err := a.c.Get(ctx, a.rm.bag.ItemPath(missing[i]))
			if errors.Is(err, zk.ErrNoNode) {
				return nil
			}
			if err != nil {
				return err
			}
			it, err := decodeRoleItem(data)
			if err != nil {
				a.c.Logger().Warn("ignoring a bag item that is not a role", zap.String("item", a.rm.bag.ItemPath(missing[i])), zap.Error(err))
				return nil
			}
			items[i] = &it
			return nil
		})
		for i, id := range missing {
			switch {
			case items[i] != nil:
				a.cache[id] = *items[i]
			case err == nil:
				a.bad[id] = true
			}
		}
		if err == nil {
			break
		}
		if err := a.c.RetryIn(ctx, sess, err); err != nil {
			return nil, err
		}
	}
	present := make(map[int64]bool, len(ids))
	var out []Role
	for _, id := range ids {
		present[id] = true
		if it, ok := a.cache[id]; ok && !a.bad[id] {
			out = append(out, Role{Name: it.Name, Data: it.Data, ID: id})
		}
	}
	for id := range a.cache {
		if !present[id] {
			delete(a.cache, id)
		}
	}
	for id := range a.bad {
		if !present[id] {
			delete(a.bad, id)
		}
	}
	return dedupRoles(out), nil
}

// errNotClaimed: someone else holds the role, or it was removed.
var errNotClaimed = errors.New("rolematch: role not claimed")

// tryClaim claims r in one multi that also takes the applicant out of the
// queue, and returns the claim's token.
func (a *applicant) tryClaim(ctx context.Context, sess *zkclient.Session, cand *Candidate, r Role) (int64, error) {
	hp := a.rm.HolderPath(r.Name)
	data, err := json.Marshal(RoleHolder{Holder: a.id, Since: time.Now().UTC(), Item: r.ID})
	if err != nil {
		return 0, err
	}
	for {
		err := a.claimOnce(ctx, sess, cand.Key(), a.rm.bag.ItemPath(r.ID), hp, data)
		var me *zkclient.MultiError
		switch {
		case err == nil:
			return a.token(ctx, sess, hp)
		case errors.As(err, &me) && me.Index == 0 && errors.Is(err, zk.ErrNoNode):
			if !sess.Alive() {
				return 0, ErrSessionLost
			}
			return 0, ErrCandidacyLost
		case errors.As(err, &me) && me.Index == 1 && errors.Is(err, zk.ErrNoNode):
			a.bad[r.ID] = true // removed; the watcher will say so too
			return 0, errNotClaimed
		case errors.As(err, &me) && me.Index == 2 && errors.Is(err, zk.ErrNodeExists):
			return 0, errNotClaimed
		case errors.As(err, &me) && me.Index == 2 && errors.Is(err, zk.ErrNoNode):
			if err := ensurePath(ctx, a.c, a.rm.HoldersDir()); err != nil {
				return 0, err
			}
			continue
		case errors.As(err, &me):
			return 0, fmt.Errorf("rolematch: claim role %s: %w", r.Name, err)
		}
		if err := a.c.RetryIn(ctx, sess, err); err != nil {
			return 0, err
		}
		// The outcome is unknown. Our session lives, so a claim that was
		// applied still stands: the holder znode is ours exactly then.
		st, err := a.c.Exists(ctx, hp)
		if err != nil {
			if err := a.c.RetryIn(ctx, sess, err); err != nil {
				return 0, err
			}
			continue
		}
		if st != nil && st.EphemeralOwner == sess.ID() {
			return st.Czxid, nil
		}
	}
}

// claimOnce sends the claim. It runs on a goroutine the client owns
// (Client.Go): if ctx ends before the reply, claimOnce returns and that
// goroutine releases the role if the claim was applied, since a holder
// znode nobody knows it owns would keep the role from everyone for as long
// as the session lives.
func (a *applicant) claimOnce(ctx context.Context, sess *zkclient.Session, candKey, itemPath, hp string, data []byte) error {
	res := make(chan error)
	abandoned := make(chan struct{})
	if !a.c.Go(func(bg context.Context) {
		_, err := a.c.Multi(bg, zkclient.DeleteOp(candKey, -1), zkclient.CheckOp(itemPath, -1), zkclient.CreateOp(hp, data, zk.FlagEphemeral))
		select {
		case res <- err:
			return
		case <-abandoned:
		}
		if err == nil || zkclient.IsConnectionError(err) {
			a.rm.release(bg, sess, hp)
		}
	}) {
		return zkclient.ErrClosed
	}
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		close(abandoned)
		return ctx.Err()
	}
}

// token reads the holder znode just created: its czxid is the claim's
// token.
func (a *applicant) token(ctx context.Context, sess *zkclient.Session, hp string) (int64, error) {
	for {
		st, err := a.c.Exists(ctx, hp)
		if err != nil {
			if err := a.c.RetryIn(ctx, sess, err); err != nil {
				if ctx.Err() != nil {
					a.rm.release(context.Background(), sess, hp)
				}
				return 0, err
			}
			continue
		}
		if st == nil || st.EphemeralOwner != sess.ID() {
			// Gone already: the session ended, or someone deleted it.
			if !sess.Alive() {
				return 0, ErrSessionLost
			}
			return 0, ErrCandidacyLost // the claim took us out of the queue: apply again
		}
		return st.Czxid, nil
	}
}

// releaseTimeout bounds the release of a role once its hold has ended.
const releaseTimeout = 10 * time.Second

// release deletes the holder znode hp if it is sess's, retrying across
// connection loss for a while (at most releaseTimeout, and not past
// parent's end). Deleting by path is preceded by an ownership check: a
// successor's znode has the same path.
func (rm *RoleMatch) release(parent context.Context, sess *zkclient.Session, hp string) {
	ctx, cancel := context.WithTimeout(parent, releaseTimeout)
	defer cancel()
	for sess.Alive() {
		st, err := rm.c.Exists(ctx, hp)
		if err == nil {
			if st == nil || st.EphemeralOwner != sess.ID() {
				return
			}
			err = rm.c.Delete(ctx, hp, st.Version)
			if err == nil || errors.Is(err, zk.ErrNoNode) {
				return
			}
		}
		if err := rm.c.Retry(ctx, err); err != nil {
			if !errors.Is(err, zkclient.ErrClosed) && parent.Err() == nil {
				rm.c.Logger().Warn("could not release a role; it is free once the session ends", zap.String("path", hp), zap.Error(err))
			}
			return
		}
	}
}

// errReturned: hold returned on its own.
var errReturned = errors.New("rolematch: hold returned")

// holdRole runs hold for r until the role is lost or hold returns, then
// releases the role. After a disconnection that the session survives, it
// calls hold again.
func (a *applicant) holdRole(ctx context.Context, sess *zkclient.Session, r Role) error {
	hp := a.rm.HolderPath(r.Name)
	for {
		cause := a.runHold(ctx, sess, r, hp)
		if errors.Is(cause, ErrDisconnected) && a.stillHeld(ctx, sess, r, hp) {
			continue
		}
		// Stopping while cut off from ZooKeeper, do not wait to release:
		// the session's end (Close, or expiry) frees the role.
		if ctx.Err() == nil || a.c.Connected() {
			a.rm.release(context.Background(), sess, hp)
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case !sess.Alive():
			return ErrSessionLost
		}
		return nil
	}
}

// runHold calls hold and cancels its context at the first sign that the
// role is lost; it returns why, once hold has returned.
func (a *applicant) runHold(ctx context.Context, sess *zkclient.Session, r Role, hp string) error {
	hctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	h := newHold(a.c, sess, hp)
	lost := h.Lost()
	defer h.end()
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.hold(hctx, r)
	}()
	var cause error
	for cause == nil {
		changed := a.view.next()
		conn := a.c.Changed()
		switch {
		case !sess.Alive():
			cause = ErrSessionLost
		case !a.c.Connected():
			cause = ErrDisconnected
		case !a.view.has(r.ID):
			cause = ErrRoleRemoved
		}
		if cause != nil {
			break
		}
		select {
		case <-done:
			cause = errReturned
		case <-ctx.Done():
			cause = ErrApplyStopped
		case <-lost:
			if sess.Alive() && a.c.Connected() {
				cause = ErrHolderDeleted
			}
		case <-sess.Done():
		case <-conn:
		case <-changed:
		}
	}
	cancel(cause)
	<-done
	return cause
}

// stillHeld waits for the client to reconnect and reports whether sess
// survived with the role still its own.
func (a *applicant) stillHeld(ctx context.Context, sess *zkclient.Session, r Role, hp string) bool {
	for {
		conn := a.c.Changed()
		if !sess.Alive() {
			return false
		}
		if a.c.Connected() {
			break
		}
		select {
		case <-conn:
		case <-sess.Done():
			return false
		case <-ctx.Done():
			return false
		}
	}
	for {
		st, err := a.c.Exists(ctx, hp)
		if err == nil && (st == nil || st.EphemeralOwner != sess.ID()) {
			return false
		}
		var item *zk.Stat
		if err == nil {
			item, err = a.c.Exists(ctx, a.rm.bag.ItemPath(r.ID))
		}
		if err == nil {
			return item != nil
		}
		if a.c.RetryIn(ctx, sess, err) != nil {
			return false
		}
	}
}
