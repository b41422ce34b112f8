package cli

import (
	"bytes"
	"errors"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func TestReportMapsErrorsToExitCodes(t *testing.T) {
	root := &cobra.Command{Use: "x"}
	var out bytes.Buffer
	root.SetErr(&out)
	for _, tc := range []struct {
		err  error
		code int
	}{
		{nil, ExitOK},
		{errors.New("boom"), ExitFailure},
		{Usage(errors.New("bad flag")), ExitUsage},
		{Exit(ExitNotSuccess, nil), ExitNotSuccess},
		{errors.New(`unknown command "x" for "client"`), ExitUsage},
		{errors.New("accepts 1 arg(s), received 0"), ExitUsage},
	} {
		if got := report(root, tc.err); got != tc.code {
			t.Errorf("%v: exit %d, want %d", tc.err, got, tc.code)
		}
	}
}

func TestValidateRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--root", "relative"},
		{"--log-level", "chatty"},
		{"--log-format", "xml"},
		{"--session-timeout", "0s"},
		{"--zk-auth", "nocolon"},
	} {
		var o Options
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		o.AddFlags(fs, "info")
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		err := o.Validate()
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != ExitUsage {
			t.Errorf("%v: want a usage error, got %v", args, err)
		}
	}
}

func TestFlagDefaultsComeFromTheEnvironment(t *testing.T) {
	t.Setenv(EnvZK, "zk1:2181,zk2:2181")
	t.Setenv(EnvRoot, "/")
	var o Options
	o.AddFlags(pflag.NewFlagSet("t", pflag.ContinueOnError), "warn")
	if o.ZK != "zk1:2181,zk2:2181" || o.Root != "/" || o.LogLevel != "warn" {
		t.Fatalf("%+v", o)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestNames(t *testing.T) {
	if err := CheckName("id", DefaultName()); err != nil {
		t.Fatalf("the default name is not valid: %v", err)
	}
	for _, bad := range []string{"", "a/b", "-x", "with space", string(make([]byte, 65))} {
		if CheckName("id", bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
