package main

import (
	"errors"
	"fmt"
	"sort"
	"text/tabwriter"

	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/spf13/cobra"
)

func newConfigCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Read and change live settings (distributed config)",
		Long: `Read and change Paddock's live settings. They are kept in ZooKeeper at
<root>/config (service-wide) and <root>/config/<process> (one master's or
worker's overrides). Masters and workers watch them: a change takes effect at
once, without a restart. A setting overrides the process's flag until unset.

Settings:
` + settingsHelp(),
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newConfigGetCommand(g), newConfigSetCommand(g), newConfigUnsetCommand(g))
	return cmd
}

func settingsHelp() string {
	s := ""
	for _, st := range coord.Settings() {
		s += fmt.Sprintf("  %-20s %s\n", st.Key, st.Help)
	}
	return s
}

func newConfigGetCommand(g *globals) *cobra.Command {
	var process string
	cmd := &cobra.Command{
		Use:   "get",
		Short: "Show the settings in force (service-wide, or for one process with --for)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withEnv(cmd, func(env *cli.Env) error {
				cfg := coord.PaddockConfig(env.Client, env.Layout)
				svc, err := cfg.Values(cmd.Context(), "")
				if err != nil {
					return err
				}
				own := map[string]string{}
				if process != "" {
					if own, err = cfg.Values(cmd.Context(), process); err != nil {
						return err
					}
				}
				type row struct {
					Key    string `json:"key"`
					Value  string `json:"value"`
					Source string `json:"source"` // process, service or flag
				}
				var rows []row
				keys := map[string]bool{}
				for _, st := range coord.Settings() {
					if !st.Family() {
						keys[st.Key] = true
					}
				}
				for k := range svc {
					keys[k] = true
				}
				for k := range own {
					keys[k] = true
				}
				for k := range keys {
					switch v, ok := own[k]; {
					case ok:
						rows = append(rows, row{k, v, "process " + process})
					default:
						if v, ok := svc[k]; ok {
							rows = append(rows, row{k, v, "service"})
						} else {
							rows = append(rows, row{k, "", "flag (the process's own default)"})
						}
					}
				}
				sort.Slice(rows, func(i, j int) bool { return rows[i].Key < rows[j].Key })
				if g.out.JSON() {
					return printJSON(cmd.OutOrStdout(), rows)
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "KEY\tVALUE\tFROM")
				for _, r := range rows {
					v := r.Value
					if v == "" {
						v = "-"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\n", r.Key, v, r.Source)
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&process, "for", "", "a master's or worker's --id: show what is in force for it")
	return cmd
}

func newConfigSetCommand(g *globals) *cobra.Command {
	var process string
	cmd := &cobra.Command{
		Use:     "set KEY VALUE",
		Short:   "Set a setting, service-wide or for one process (--for)",
		Example: "  client config set worker.concurrency 8\n  client config set worker.concurrency 2 --for w1\n  client config set master.retention 1h\n  client config set retry.email max=5,initial=1s",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := coord.CheckSetting(args[0], args[1]); err != nil {
				return cli.Usage(err)
			}
			if process != "" {
				if err := cli.CheckName("for", process); err != nil {
					return err
				}
			}
			return g.withEnv(cmd, func(env *cli.Env) error {
				if err := coord.PaddockConfig(env.Client, env.Layout).Set(cmd.Context(), args[0], args[1], process); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s = %s (%s)\n", args[0], args[1], scope(process))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&process, "for", "", "only for this master or worker (its --id)")
	return cmd
}

func newConfigUnsetCommand(g *globals) *cobra.Command {
	var process string
	cmd := &cobra.Command{
		Use:   "unset KEY",
		Short: "Remove a setting; the service-wide value or the flag applies again",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !coord.KnownSetting(args[0]) {
				return cli.Usage(errors.New(coord.CheckSetting(args[0], "").Error()))
			}
			return g.withEnv(cmd, func(env *cli.Env) error {
				if err := coord.PaddockConfig(env.Client, env.Layout).Unset(cmd.Context(), args[0], process); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "unset %s (%s)\n", args[0], scope(process))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&process, "for", "", "only for this master or worker (its --id)")
	return cmd
}

func scope(process string) string {
	if process == "" {
		return "service-wide"
	}
	return "for " + process
}
