package cli

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// tree is a small command tree run the way Main runs one.
func tree(o *Options, before ...func(leaf *cobra.Command)) (*cobra.Command, *bytes.Buffer) {
	root := &cobra.Command{Use: "x", Args: cobra.NoArgs}
	o.AddFlags(root.PersistentFlags(), "warn")
	var n int
	leaf := &cobra.Command{Use: "leaf", Args: cobra.ExactArgs(1), RunE: func(*cobra.Command, []string) error { return nil }}
	leaf.Flags().IntVar(&n, "count", 1, "how many")
	leaf.Flags().Bool("a", false, "")
	leaf.Flags().Bool("b", false, "")
	leaf.MarkFlagsMutuallyExclusive("a", "b")
	group := &cobra.Command{Use: "group", Args: cobra.NoArgs}
	group.AddCommand(&cobra.Command{Use: "list", RunE: func(*cobra.Command, []string) error { return nil }})
	root.AddCommand(leaf, group)
	for _, f := range before {
		f(leaf)
	}
	Prepare(root)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	return root, &out
}

func TestFlagsComeFromTheEnvironment(t *testing.T) {
	t.Setenv(EnvZK, "zk1:2181,zk2:2181")
	t.Setenv("PADDOCK_ROOT", "/")
	t.Setenv("PADDOCK_LOG_LEVEL", "error")
	var o Options
	root, _ := tree(&o)
	root.SetArgs([]string{"leaf", "arg", "--log-level", "info"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	// The environment beats defaults; the command line beats the environment.
	if o.ZK != "zk1:2181,zk2:2181" || o.Root != "/" || o.LogLevel != "info" {
		t.Fatalf("%+v", o)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestABadEnvironmentValueIsAUsageErrorNamingIt(t *testing.T) {
	t.Setenv("PADDOCK_COUNT", "many")
	var o Options
	root, _ := tree(&o)
	root.SetArgs([]string{"leaf", "arg"})
	err := root.Execute()
	if report(root, err) != ExitUsage || !strings.Contains(err.Error(), "PADDOCK_COUNT") {
		t.Fatalf("got %v", err)
	}
}

func TestHelpNamesEachFlagsVariable(t *testing.T) {
	var o Options
	root, out := tree(&o)
	root.SetArgs([]string{"leaf", "--help"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PADDOCK_COUNT", "PADDOCK_ZK_AUTH", "PADDOCK_SESSION_TIMEOUT"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help does not mention %s:\n%s", want, out)
		}
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"laef"}, "did you mean this?\n\tleaf"},
		{[]string{"group", "lst"}, "did you mean this?\n\tlist"},
		{[]string{"group", "bogus"}, `unknown command "bogus" for "x group"`},
		{[]string{"leaf"}, "accepts 1 arg(s), received 0"},
		{[]string{"leaf", "a", "--a", "--b"}, "none of the others can be"},
		{[]string{"leaf", "a", "--nope"}, "unknown flag"},
	} {
		var o Options
		root, _ := tree(&o)
		root.SetArgs(tc.args)
		err := root.Execute()
		if code := report(root, err); code != ExitUsage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: exit %d (%v), want %d mentioning %q", tc.args, code, err, ExitUsage, tc.want)
		}
	}
}

func TestAGroupAloneShowsItsHelp(t *testing.T) {
	var o Options
	root, out := tree(&o)
	root.SetArgs([]string{"group"})
	if err := root.Execute(); err != nil || !strings.Contains(out.String(), "list") {
		t.Fatalf("%v\n%s", err, out)
	}
}

func TestVersionWithoutStamp(t *testing.T) {
	if v := BuildVersion(); v == "" {
		t.Fatal("empty version")
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

func TestConfigFileHasTheLowestPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "paddock.yaml")
	writeFile(t, path, `
zk: [zk1:2181, zk2:2181]
root: /from-file
log-level: error
retention: 48h # a master's flag: shared keys other binaries know are fine
x:
  count: 7
  session-timeout: 3s
worker:
  nonsense: 1 # another binary's section is not checked here
`)
	t.Setenv("PADDOCK_ROOT", "/from-env")
	var o Options
	root, _ := tree(&o)
	root.SetArgs([]string{"leaf", "arg", "--config", path, "--log-level", "info"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if o.ZK != "zk1:2181,zk2:2181" || o.Root != "/from-env" || o.LogLevel != "info" || o.SessionTimeout != 3*time.Second {
		t.Fatalf("%+v", o)
	}
	leaf, _, _ := root.Find([]string{"leaf"})
	if got := leaf.Flags().Lookup("count").Value.String(); got != "7" {
		t.Fatalf("count from the file's own section: %s", got)
	}
}

func TestConfigFileErrorsAreUsageErrors(t *testing.T) {
	for name, body := range map[string]string{
		"typo in own section": "x:\n  cuont: 3\n",
		"not YAML":            "zk: [unclosed\n",
		"bad value":           "session-timeout: soon\n",
		"section not a map":   "x: 3\n",
	} {
		path := filepath.Join(t.TempDir(), "c.yaml")
		writeFile(t, path, body)
		var o Options
		root, _ := tree(&o)
		root.SetArgs([]string{"leaf", "arg", "--config", path})
		err := root.Execute()
		if report(root, err) != ExitUsage || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: got %v", name, err)
		}
	}
	var o Options
	root, _ := tree(&o)
	root.SetArgs([]string{"leaf", "arg", "--config", "/nonexistent/paddock.yaml"})
	if err := root.Execute(); report(root, err) != ExitUsage {
		t.Errorf("missing file: %v", err)
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestNotifyTalksToTheServiceManagersSocket(t *testing.T) {
	if err := Notify(NotifyReady); err != nil && os.Getenv("NOTIFY_SOCKET") == "" {
		t.Fatalf("without NOTIFY_SOCKET: %v", err)
	}
	path := filepath.Join(t.TempDir(), "notify")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	if err := Notify(NotifyReady); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	_ = ln.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := ln.Read(buf)
	if err != nil || string(buf[:n]) != NotifyReady {
		t.Fatalf("got %q, %v", buf[:n], err)
	}
}

func TestCommandLineOnlyFlagsIgnoreTheEnvironment(t *testing.T) {
	t.Setenv("PADDOCK_A", "true")
	var o Options
	root, out := tree(&o, func(leaf *cobra.Command) { CommandLineOnly(leaf.Flags(), "a") })
	leaf, _, _ := root.Find([]string{"leaf"})
	root.SetArgs([]string{"leaf", "x"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if leaf.Flags().Lookup("a").Changed {
		t.Fatal("PADDOCK_A set a command-line-only flag")
	}
	root.SetArgs([]string{"leaf", "--help"})
	_ = root.Execute()
	if strings.Contains(out.String(), "PADDOCK_A") {
		t.Fatalf("--help offers PADDOCK_A:\n%s", out)
	}
}
