package task

import (
	"encoding/json"
	"errors"
	"sort"
	"unicode/utf8"
)

// Status is the terminal state an outcome gives its task.
func (o Outcome) Status() Status {
	switch {
	case o.Err == nil:
		return Succeeded
	case errors.Is(o.Err, ErrCancelled):
		return Cancelled
	}
	return Failed
}

// markerSlack is what each cut text may grow by for the truncation marker
// Printable appends, in JSON form, with room to spare.
const markerSlack = 64

// EncodeResult is Encode for a result, except that its size never makes it
// fail: losing a result would be worse than losing the end of its output. A
// result that would exceed MaxRecord has its longest texts (Output, Stderr,
// and Error should that be what is huge) cut to a common limit, keeping their
// beginning and adding a truncation marker, so that a flood on stdout does
// not wipe out a short stderr.
func EncodeResult(r Result) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil || len(b) <= MaxRecord {
		return b, err
	}
	texts := []*string{&r.Output, &r.Stderr, &r.Error}
	sizes := make([]int, len(texts))
	total, largest := 0, 0
	for i, t := range texts {
		sizes[i] = jsonLen(*t)
		total += sizes[i]
		largest = max(largest, sizes[i])
	}
	budget := MaxRecord - (len(b) - total) - len(texts)*markerSlack
	// The largest limit at which the texts fit the budget; -1 if even
	// empty ones would not.
	limit := sort.Search(largest+1, func(limit int) bool {
		sum := 0
		for _, n := range sizes {
			sum += min(n, limit)
		}
		return sum > budget
	}) - 1
	for i, t := range texts {
		switch {
		case limit < 0:
			*t = ""
		case sizes[i] > limit:
			*t = Printable([]byte(*t), jsonPrefix(*t, limit))
		}
	}
	return Encode(r)
}

// jsonLen is how many bytes encoding/json writes for s, quotes excluded.
func jsonLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c, size := jsonChar(s[i:])
		n += c
		i += size
	}
	return n
}

// jsonPrefix is the length of the longest prefix of s, not splitting a
// rune, that encoding/json writes in at most limit bytes.
func jsonPrefix(s string, limit int) int {
	n := 0
	for i := 0; i < len(s); {
		c, size := jsonChar(s[i:])
		if n+c > limit {
			return i
		}
		n += c
		i += size
	}
	return len(s)
}

// jsonChar returns the encoded size of the character s starts with, and its
// size in s, following encoding/json: HTML-sensitive and control characters,
// U+2028, U+2029 and invalid bytes become six-byte \u escapes.
func jsonChar(s string) (encoded, size int) {
	if b := s[0]; b < utf8.RuneSelf {
		switch {
		case b == '"' || b == '\\' || b == '\b' || b == '\f' || b == '\n' || b == '\r' || b == '\t':
			return 2, 1
		case b < 0x20 || b == '<' || b == '>' || b == '&':
			return 6, 1
		}
		return 1, 1
	}
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
		return 6, size
	}
	return size, size
}
