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

// skipEnv are cobra's own flags: an environment variable must not turn a
// command into its help or version text.
func skipEnv(f *pflag.Flag) bool {
	return f.Name == "help" || f.Name == "version" || f.Hidden
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
