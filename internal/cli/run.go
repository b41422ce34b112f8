package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/spf13/cobra"
)

// Exit codes shared by the binaries.
const (
	ExitOK          = 0
	ExitFailure     = 1   // could not do it: unreachable ZooKeeper, I/O, ...
	ExitUsage       = 2   // bad flags or arguments
	ExitNotSuccess  = 3   // the task (or a task of a run) did not succeed
	ExitInterrupted = 130 // stopped by SIGINT or SIGTERM before it was done (128 + SIGINT, as shells report it)
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
// shutdown); a second one exits at once. The process runs Go code on
// DefaultProcs threads unless GOMAXPROCS is set.
func Main(root *cobra.Command) {
	limitProcs()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // restore default handling: a second signal kills
	}()
	Prepare(root)
	err := root.ExecuteContext(ctx)
	if err != nil && ctx.Err() != nil {
		var ee *ExitError
		if !errors.As(err, &ee) {
			// Whatever failed, it failed because it was told to stop.
			err = Exit(ExitInterrupted, fmt.Errorf("interrupted: %w", err))
		}
	}
	os.Exit(report(root, err))
}

// Prepare gives a command tree the behaviour every binary shares: usage
// errors (bad arguments, unknown subcommands with a suggestion, conflicting
// flags) exit 2 without guessing from cobra's messages; every flag can be
// set from the environment and --help says how; --version works in any
// build. Main calls it; tests call it to run a tree as Main would.
func Prepare(root *cobra.Command) {
	root.SilenceUsage = true
	root.SilenceErrors = true
	if root.Version == "" {
		root.Version = BuildVersion()
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return Usage(fmt.Errorf("%w\nsee '%s --help'", err, c.CommandPath()))
	})
	addConfigFlag(root)
	walk(root, func(c *cobra.Command) {
		annotateEnv(c.Flags())
		annotateEnv(c.PersistentFlags())
		typeArgErrors(c)
	})
	pre := root.PersistentPreRunE
	root.PersistentPreRunE = func(c *cobra.Command, args []string) error {
		if err := applyEnv(c); err != nil {
			return err
		}
		if p := configPath(c); p != "" {
			if err := applyConfigFile(c, p); err != nil {
				return err
			}
		}
		// cobra checks these after this hook, with untyped errors; checking
		// them first makes them usage errors.
		if err := c.ValidateRequiredFlags(); err != nil {
			return Usage(err)
		}
		if err := c.ValidateFlagGroups(); err != nil {
			return Usage(err)
		}
		if pre != nil {
			return pre(c, args)
		}
		return nil
	}
}

func walk(c *cobra.Command, f func(*cobra.Command)) {
	f(c)
	for _, sub := range c.Commands() {
		walk(sub, f)
	}
}

// typeArgErrors makes c's argument errors usage errors. A command that only
// groups subcommands (config, role) becomes runnable: cobra would otherwise
// print its help and exit 0 for a mistyped subcommand ("config bogus"),
// since it never validates the arguments of a command without Run.
func typeArgErrors(c *cobra.Command) {
	if c.HasSubCommands() && !c.Runnable() {
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return c.Help()
			}
			return unknownCommand(c, args[0])
		}
		return
	}
	validate := c.Args
	if validate == nil {
		validate = cobra.ArbitraryArgs
	}
	c.Args = func(c *cobra.Command, args []string) error {
		err := validate(c, args)
		switch {
		case err == nil:
			return nil
		case c.HasAvailableSubCommands() && len(args) > 0:
			return unknownCommand(c, args[0])
		}
		return Usage(fmt.Errorf("%w\nsee '%s --help'", err, c.CommandPath()))
	}
}

func unknownCommand(c *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, c.CommandPath())
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2 // cobra's own default, set only on its path
	}
	if s := c.SuggestionsFor(name); len(s) > 0 {
		msg += "\n\ndid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	return Usage(fmt.Errorf("%s\nsee '%s --help'", msg, c.CommandPath()))
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
	}
	fmt.Fprintf(root.ErrOrStderr(), "%s: %v\n", root.Name(), err)
	if errors.Is(err, coord.ErrNoAuth) {
		fmt.Fprintf(root.ErrOrStderr(), "the znodes belong to another identity: pass the --zk-auth (or %s) they were created with\n", EnvName("zk-auth"))
	}
	return code
}
