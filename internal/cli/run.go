package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/go-zookeeper/zk"
	"github.com/spf13/cobra"
)

// Exit codes shared by the binaries.
const (
	ExitOK         = 0
	ExitFailure    = 1 // could not do it: unreachable ZooKeeper, I/O, ...
	ExitUsage      = 2 // bad flags or arguments
	ExitNotSuccess = 3 // the task (or a task of a run) did not succeed
)

// ExitError carries an exit code out of a command.
type ExitError struct {
	Code int
	Err  error // printed unless nil
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Usage marks err as a usage error (exit 2).
func Usage(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// Exit returns an error that makes Main exit with code after printing err
// (nothing when err is nil).
func Exit(code int, err error) error { return &ExitError{Code: code, Err: err} }

// Main runs the root command and exits the process with the right code.
// The first SIGINT or SIGTERM cancels the command's context (graceful
// shutdown); a second one exits at once.
func Main(root *cobra.Command) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // restore default handling: a second signal kills
	}()
	root.SilenceUsage = true
	root.SilenceErrors = true
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return Usage(fmt.Errorf("%w\nsee '%s --help'", err, c.CommandPath()))
	})
	err := root.ExecuteContext(ctx)
	os.Exit(report(root, err))
}

func report(root *cobra.Command, err error) int {
	if err == nil {
		return ExitOK
	}
	code := ExitFailure
	var ee *ExitError
	if errors.As(err, &ee) {
		code = ee.Code
		if ee.Err == nil {
			return code
		}
	} else if isArgError(err) {
		code = ExitUsage
	}
	fmt.Fprintf(root.ErrOrStderr(), "%s: %v\n", root.Name(), err)
	if errors.Is(err, zk.ErrNoAuth) {
		fmt.Fprintf(root.ErrOrStderr(), "the znodes belong to another identity: pass the --zk-auth (or %s) they were created with\n", EnvAuth)
	}
	return code
}

// isArgError recognises cobra's own argument and command errors, which it
// does not type.
func isArgError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "received ", "unknown flag", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
