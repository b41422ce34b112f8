package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// EnvPrefix starts the environment variable of every flag: --zk-auth is
// PADDOCK_ZK_AUTH. One rule for every flag of every binary means a unit's
// EnvironmentFile= or a compose file's environment: needs no flag at all,
// and nobody has to look up which flags have a variable.
const EnvPrefix = "PADDOCK_"

// EnvName is the environment variable that sets flag name.
func EnvName(flag string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// noEnv is the annotation of flags that only the command line may set.
const noEnv = "paddock_no_env"

// CommandLineOnly keeps the named flags of fs away from the environment and
// config files: a confirmation such as purge's --yes must be typed for the
// command at hand, never inherited from an exported variable.
func CommandLineOnly(fs *pflag.FlagSet, names ...string) {
	for _, n := range names {
		_ = fs.SetAnnotation(n, noEnv, []string{"true"})
	}
}

// skipEnv are the flags the environment does not set: cobra's own (an
// environment variable must not turn a command into its help or version
// text) and those marked CommandLineOnly.
func skipEnv(f *pflag.Flag) bool {
	_, commandLineOnly := f.Annotations[noEnv]
	return f.Name == "help" || f.Name == "version" || f.Hidden || commandLineOnly
}

// annotateEnv appends each flag's variable to its usage, so --help says it.
func annotateEnv(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if skipEnv(f) || strings.Contains(f.Usage, "(env ") {
			return
		}
		f.Usage += " (env " + EnvName(f.Name) + ")"
	})
}

// applyEnv sets every flag not given on the command line from its
// environment variable: flags win over the environment, the environment
// over defaults. A value the flag refuses is a usage error naming the
// variable, since that is where the typo is.
func applyEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || skipEnv(f) {
			return
		}
		name := EnvName(f.Name)
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return
		}
		if serr := cmd.Flags().Set(f.Name, v); serr != nil {
			err = Usage(fmt.Errorf("%s=%q (for --%s): %v", name, v, f.Name, serr))
		}
	})
	return err
}
