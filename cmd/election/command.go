package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/paddock-zk/paddock/internal/cli"
	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
)

func newCommand() *cobra.Command {
	var (
		opts cli.Options
		id   string
		dir  string
		out  cli.Output
	)
	cmd := &cobra.Command{
		Use:   "election",
		Short: "Stand in a leader election and print each change",
		Long: `Stand in a leader election and print one line per change of standing:

  elected            this process leads
  following NAME     NAME leads; this process waits in line
  lost REASON        the candidacy ended (session expired, znode deleted);
                     the process stands again at the back of the line

Each candidate is an ephemeral sequential znode under --path; the lowest leads
and every other one watches only its predecessor, so a departure wakes one
process, not all (no herd effect). A follower learns who leads when it joins
and whenever its predecessor leaves.

SIGINT or SIGTERM deletes the candidacy and exits 0 at once, so the next in
line is elected without waiting for a session timeout.`,
		Example: `  election --id a & election --id b & election --id c &
  kill %1    # b prints "elected"`,
		Args:    cobra.NoArgs,
		Version: cli.BuildVersion(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.Validate(); err != nil {
				return err
			}
			if err := cli.CheckName("id", id); err != nil {
				return err
			}
			env, err := opts.Open(cmd.Context(), "election")
			if err != nil {
				return err
			}
			defer env.Close()
			if dir == "" {
				dir = env.Layout.Election()
			}
			if err := coord.EnsureElection(cmd.Context(), env.Client, dir); err != nil {
				return err
			}
			p := &printer{w: cmd.OutOrStdout(), json: out.JSON(), id: id}
			return stand(cmd.Context(), env, dir, id, p)
		},
	}
	opts.AddFlags(cmd.Flags(), "warn")
	cmd.Flags().StringVar(&id, "id", cli.DefaultName(), "this candidate's name, printed by the others")
	cmd.Flags().StringVar(&dir, "path", "", "znode under which candidates queue (default <root>/election)")
	out.AddFlags(cmd.Flags())
	return cmd
}

func stand(ctx context.Context, env *cli.Env, dir, id string, p *printer) error {
	el := recipe.NewLeaderQueue(env.Client, dir)
	me, _ := json.Marshal(recipe.Self(id))
	for {
		sess, err := env.Client.Session(ctx)
		if err != nil {
			return quiet(ctx, err)
		}
		cand, err := el.Join(ctx, sess, me)
		if err != nil {
			if errors.Is(err, recipe.ErrSessionLost) {
				continue
			}
			return quiet(ctx, err)
		}
		env.Log.Debug("joined", zap.String("candidate", cand.Key()))
		err = cand.Lead(ctx, func(s recipe.Standing) {
			if s.Position > 0 {
				leader, _ := recipe.DecodeMember(s.LeaderData)
				p.following(leader.ID, s)
			}
		})
		if err == nil {
			p.elected(cand)
			select {
			case <-cand.Gone(ctx):
				if ctx.Err() == nil {
					err = recipe.ErrCandidacyLost
					if !sess.Alive() {
						err = recipe.ErrSessionLost
					}
				}
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			rctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = cand.Resign(rctx)
			cancel()
			return nil
		}
		p.lost(err)
	}
}

func quiet(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

type printer struct {
	w    io.Writer
	json bool
	id   string
	last string
}

func (p *printer) emit(text string, fields map[string]any) {
	if text == p.last {
		return
	}
	p.last = text
	if !p.json {
		fmt.Fprintln(p.w, text)
		return
	}
	fields["id"] = p.id
	fields["ts"] = time.Now().UTC().Format(time.RFC3339Nano)
	b, _ := json.Marshal(fields)
	fmt.Fprintln(p.w, string(b))
}

func (p *printer) elected(c *recipe.Candidate) {
	p.emit("elected", map[string]any{"event": "elected", "candidate": c.Key()})
}

func (p *printer) following(leader string, s recipe.Standing) {
	p.emit("following "+leader, map[string]any{"event": "following", "leader": leader,
		"position": s.Position, "predecessor": s.Predecessor})
}

func (p *printer) lost(err error) {
	reason := "candidacy-deleted"
	if errors.Is(err, recipe.ErrSessionLost) {
		reason = "session-expired"
	}
	p.emit("lost "+reason, map[string]any{"event": "lost", "reason": reason})
}
