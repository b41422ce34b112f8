package cli

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// binaries are the sections a config file may have, one per binary.
var binaries = []string{"master", "worker", "client", "election"}

// A config file (--config, YAML) sets flags by name, like the environment
// does, with the lowest precedence: flags > PADDOCK_<FLAG> > file >
// defaults. Top-level keys are shared by every binary reading the file and
// apply where the running command has that flag; a section named after a
// binary applies to that binary only, over the shared keys:
//
//	zk: zk1:2181,zk2:2181,zk3:2181
//	zk-auth: paddock:secret
//	worker:
//	  concurrency: 8
//	  allow-exec: true
//	master:
//	  http-addr: 0.0.0.0:9100
//
// A key in the running binary's own section that none of its commands
// knows is an error (a typo would otherwise be silently ignored); shared
// keys cannot be checked that way, since another binary may know them.
func applyConfigFile(cmd *cobra.Command, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return Usage(fmt.Errorf("--config: %w", err))
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Usage(fmt.Errorf("--config %s: not YAML: %w", path, err))
	}
	bin := cmd.Root().Name()
	shared := map[string]any{}
	var own map[string]any
	for k, v := range doc {
		if !isBinary(k) && k != bin {
			shared[k] = v
			continue
		}
		if k != bin {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok && v != nil {
			return Usage(fmt.Errorf("--config %s: section %q must be a mapping of flag names to values", path, k))
		}
		own = m
	}
	for _, k := range sortedKeys(own) {
		if !treeHasFlag(cmd.Root(), k) {
			return Usage(fmt.Errorf("--config %s: %s has no flag --%s (section %q)", path, bin, k, bin))
		}
	}
	for _, layer := range []map[string]any{own, shared} {
		for _, k := range sortedKeys(layer) {
			f := cmd.Flags().Lookup(k)
			if f == nil || f.Changed || skipEnv(f) || k == "config" {
				continue
			}
			v, err := scalar(layer[k])
			if err != nil {
				return Usage(fmt.Errorf("--config %s: %s: %w", path, k, err))
			}
			if err := cmd.Flags().Set(k, v); err != nil {
				return Usage(fmt.Errorf("--config %s: %s: %v", path, k, err))
			}
		}
	}
	return nil
}

func isBinary(name string) bool {
	for _, b := range binaries {
		if b == name {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func treeHasFlag(c *cobra.Command, name string) bool {
	if c.Flags().Lookup(name) != nil || c.PersistentFlags().Lookup(name) != nil {
		return true
	}
	for _, sub := range c.Commands() {
		if treeHasFlag(sub, name) {
			return true
		}
	}
	return false
}

// scalar turns a YAML value into a flag's text: a list becomes
// comma-separated (--zk takes host:port,host:port).
func scalar(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", errors.New("no value")
	case map[string]any:
		return "", errors.New("a mapping is not a flag value")
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			s, err := scalar(e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	return fmt.Sprint(v), nil
}

// addConfigFlag gives the root --config; commands read the file in their
// pre-run hook (see Prepare).
func addConfigFlag(root *cobra.Command) {
	if root.PersistentFlags().Lookup("config") == nil && root.Flags().Lookup("config") == nil {
		root.PersistentFlags().String("config", "", "read flag values from this YAML file (flags and PADDOCK_* variables win; see README, Configuration)")
	}
}

// configPath is --config as set by flag or environment.
func configPath(cmd *cobra.Command) string {
	f := cmd.Flags().Lookup("config")
	if f == nil {
		return ""
	}
	return f.Value.String()
}
