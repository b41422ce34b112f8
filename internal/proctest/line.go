package proctest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Line is one line of a process's output. Masters, workers and clients
// started with --log-format json write zap JSON on stderr ("ts", "level",
// "logger", "msg", and fields such as "id", "epoch", "task", "worker");
// election --json writes JSON events on stdout ("event", "id", "ts").
// Other lines are kept with JSON false.
type Line struct {
	Proc   string         // name of the process that wrote it
	Stream string         // "stdout" or "stderr"
	N      int            // index of the line within its stream
	Raw    string         // the line without its newline
	JSON   bool           // Raw parsed as a JSON object
	Fields map[string]any // the object's fields (numbers as json.Number)
	TS     time.Time      // the "ts" field, or when the line was read
	Msg    string         // the "msg" field (zap)
	Level  string         // the "level" field (zap)
}

func parseLine(proc, stream string, n int, raw string, now time.Time) Line {
	l := Line{Proc: proc, Stream: stream, N: n, Raw: raw, TS: now}
	trimmed := strings.TrimSpace(raw)
	if !strings.HasPrefix(trimmed, "{") {
		return l
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(trimmed)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return l
	}
	l.JSON, l.Fields = true, m
	if s, ok := m["ts"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			l.TS = t
		}
	}
	l.Msg, _ = m["msg"].(string)
	l.Level, _ = m["level"].(string)
	return l
}

// Str returns field k as a string ("" when absent); numbers and booleans
// are formatted.
func (l Line) Str(k string) string {
	switch v := l.Fields[k].(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	default:
		return fmt.Sprint(v)
	}
}

// Int returns field k as an integer.
func (l Line) Int(k string) (int64, bool) {
	switch v := l.Fields[k].(type) {
	case json.Number:
		i, err := v.Int64()
		return i, err == nil
	case string:
		i, err := strconv.ParseInt(v, 10, 64)
		return i, err == nil
	}
	return 0, false
}

// Has reports whether field k is present.
func (l Line) Has(k string) bool {
	_, ok := l.Fields[k]
	return ok
}

func (l Line) String() string { return l.Proc + "/" + l.Stream + ": " + l.Raw }

// Pred selects lines.
type Pred func(Line) bool

// Msg matches a JSON log line whose "msg" is m.
func Msg(m string) Pred { return func(l Line) bool { return l.JSON && l.Msg == m } }

// Field matches a line whose field k formats as v (see [Line.Str]).
func Field(k, v string) Pred { return func(l Line) bool { return l.Has(k) && l.Str(k) == v } }

// Event matches an election --json line with "event" ev.
func Event(ev string) Pred { return Field("event", ev) }

// After matches a line stamped after t.
func After(t time.Time) Pred { return func(l Line) bool { return l.TS.After(t) } }

// Contains matches a line whose raw text contains s.
func Contains(s string) Pred { return func(l Line) bool { return strings.Contains(l.Raw, s) } }

// All matches when every p matches.
func All(ps ...Pred) Pred {
	return func(l Line) bool {
		for _, p := range ps {
			if !p(l) {
				return false
			}
		}
		return true
	}
}

// AnyOf matches when some p matches.
func AnyOf(ps ...Pred) Pred {
	return func(l Line) bool {
		for _, p := range ps {
			if p(l) {
				return true
			}
		}
		return false
	}
}

// Filter returns the lines p matches, in order.
func Filter(lines []Line, p Pred) []Line {
	var out []Line
	for _, l := range lines {
		if p(l) {
			out = append(out, l)
		}
	}
	return out
}

// TaskIDs are the "task" fields of lines.
func TaskIDs(ls []Line) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Str("task")
	}
	return out
}
