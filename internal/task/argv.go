package task

import (
	"encoding/json"
	"strconv"
)

// ParseArgv decodes a command line: an exec task's payload, a role's data.
// It must be a JSON array of strings whose first element, the command, is
// not empty; anything else is an error (wrapping ErrMalformed) that says
// what was expected and shows what was given.
func ParseArgv(payload []byte) ([]string, error) {
	var argv []string
	if err := json.Unmarshal(payload, &argv); err != nil || len(argv) == 0 || argv[0] == "" {
		return nil, argvError{got: QuotePayload(payload)}
	}
	return argv, nil
}

// argvError reads as the sentence after "payload" or "--data".
type argvError struct{ got string }

func (e argvError) Error() string {
	return `must be a JSON array of strings, the command and its arguments, e.g. ["sh","-c","echo hi"]; got ` + e.got
}

func (argvError) Unwrap() error { return ErrMalformed }

// QuotePayload quotes the start of a payload for an error message: a
// payload can be large, and the message only needs to show which it was.
func QuotePayload(p []byte) string {
	const max = 64
	if len(p) > max {
		return strconv.Quote(string(p[:max])) + "..."
	}
	return strconv.Quote(string(p))
}
