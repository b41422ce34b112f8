package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/spf13/cobra"
)

func newRoleCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "role",
		Short: "Add, remove and list roles: long-lived jobs that workers hold (role match)",
		Long: `Roles are long-lived jobs (say a shard: shard-7) that must always be held by
exactly one worker. They are kept in ZooKeeper under <root>/roles. Workers
started with --roles --allow-exec wait in a queue of applicants; the one at
its front claims an open role, leaves the queue and runs the role's command
(its data: a JSON argv array, like an exec task's payload) for as long as it
holds the role, restarting it when it exits. If the holder dies, the next
applicant takes the role within the session timeout. A role with no data is
held without a command.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newRoleAddCommand(g), newRoleRemoveCommand(g), newRoleListCommand(g))
	return cmd
}

// checkRoleData accepts what a worker can run: nothing, or a JSON array of
// strings whose first element (the command) is not empty.
func checkRoleData(data string) error {
	if data == "" {
		return nil
	}
	// The worker runs it as an exec task's payload: the same decoder.
	if _, err := task.ParseArgv([]byte(data)); err != nil {
		return fmt.Errorf("--data %w", err)
	}
	if len(data) > recipe.MaxRoleData {
		return fmt.Errorf("--data is %d bytes, more than %d", len(data), recipe.MaxRoleData)
	}
	return nil
}

func newRoleAddCommand(g *globals) *cobra.Command {
	var data string
	cmd := &cobra.Command{
		Use:     "add NAME",
		Short:   "Add a role; a waiting worker takes it at once",
		Example: `  client role add shard-7 --data '["my-shard","--id","7"]'` + "\n" + `  client role add leader-duty`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := recipe.CheckRoleName(name); err != nil {
				return cli.Usage(err)
			}
			if err := checkRoleData(data); err != nil {
				return cli.Usage(err)
			}
			return g.withEnv(cmd, func(env *cli.Env) error {
				err := recipe.NewRoleMatch(env.Client, env.Layout.Roles()).Add(cmd.Context(), name, data)
				if errors.Is(err, recipe.ErrRoleExists) {
					return fmt.Errorf("role %s exists already (remove it first to change it)", name)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "added role %s\n", name)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "the role's command, a JSON argv array (empty: the role is held without a command)")
	return cmd
}

func newRoleRemoveCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rm NAME",
		Short: "Remove a role; its holder stops its command",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := recipe.CheckRoleName(name); err != nil {
				return cli.Usage(err)
			}
			return g.withEnv(cmd, func(env *cli.Env) error {
				err := recipe.NewRoleMatch(env.Client, env.Layout.Roles()).Remove(cmd.Context(), name)
				if errors.Is(err, recipe.ErrNoRole) {
					return fmt.Errorf("no role %s", name)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed role %s\n", name)
				return nil
			})
		},
	}
}

// roleList is what `client role list --json` prints.
type roleList struct {
	Roles      []recipe.RoleStatus `json:"roles"`
	Applicants []recipe.Member     `json:"applicants"` // waiting for a role, the next to claim first
}

func newRoleListCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Show the roles, who holds each, and the applicants waiting in line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withEnv(cmd, func(env *cli.Env) error {
				rm := recipe.NewRoleMatch(env.Client, env.Layout.Roles())
				var l roleList
				var err error
				if l.Roles, err = rm.List(cmd.Context()); err != nil {
					return err
				}
				if l.Applicants, err = rm.Applicants(cmd.Context()); err != nil {
					return err
				}
				if l.Roles == nil {
					l.Roles = []recipe.RoleStatus{}
				}
				if g.out.JSON() {
					return printJSON(cmd.OutOrStdout(), l)
				}
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ROLE\tHOLDER\tSINCE\tCOMMAND")
				for _, r := range l.Roles {
					holder, since := "-", "-"
					if r.Holder != "" {
						holder = r.Holder
						since = r.Since.Local().Format(time.DateTime) + " (" + time.Since(r.Since).Round(time.Second).String() + " ago)"
					}
					command := r.Data
					if command == "" {
						command = "-"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.Name, holder, since, command)
				}
				w.Flush()
				ids := make([]string, len(l.Applicants))
				for i, a := range l.Applicants {
					ids[i] = a.ID
				}
				if len(ids) == 0 {
					ids = []string{"none"}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "applicants: %s\n", strings.Join(ids, ", "))
				return nil
			})
		},
	}
	return cmd
}
