package worker

import (
	"context"
	"errors"
	"time"

	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// Restart delays of a role's command that keeps exiting.
const (
	roleRestartMin   = time.Second
	roleRestartMax   = 30 * time.Second
	roleRestartReset = time.Minute // a run this long resets the delay
)

// applyForRoles stands in the role match's applicants queue until ctx
// ends, and runs the command of each role it holds.
func (s *server) applyForRoles(ctx context.Context) {
	rm := recipe.NewRoleMatch(s.c, s.l.Roles())
	delay := roleRestartMin
	for {
		err := rm.Apply(ctx, s.id, s.holdRole)
		if ctx.Err() != nil || errors.Is(err, zkclient.ErrClosed) {
			return
		}
		s.log.Error("role match failed; applying again", zap.Error(err), zap.Duration("in", delay))
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return
		}
		delay = min(2*delay, roleRestartMax)
	}
}

// holdRole is called by the role match while the worker holds r, with a
// ctx cancelled when it loses it. It runs the role's command until then.
func (s *server) holdRole(ctx context.Context, r recipe.Role) {
	log := s.log.With(zap.String("role", r.Name))
	log.Info("role claimed", zap.Int64("token", r.Token))
	s.m.nRoles.Add(1)
	defer s.m.nRoles.Add(-1)
	defer func() { log.Info("role lost", zap.String("reason", context.Cause(ctx).Error())) }()
	if r.Data == "" {
		<-ctx.Done()
		return
	}
	argv, err := task.ParseArgv([]byte(r.Data))
	if err != nil {
		log.Error("role data is not a command; holding the role without running anything", zap.Error(err))
		<-ctx.Done()
		return
	}
	delay := roleRestartMin
	for {
		started := time.Now()
		log.Info("role command started", zap.Strings("argv", argv))
		// Cancelling ctx kills the command's process group (Exec).
		t := &Task{Kind: "exec", Payload: []byte(r.Data)}
		_, err := call(ctx, s.exec, t, log)
		if ctx.Err() != nil {
			return
		}
		ran := time.Since(started)
		if ran >= roleRestartReset {
			delay = roleRestartMin
		}
		log.Warn("role command exited", roleExit(t, err, ran, delay)...)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return
		}
		delay = min(2*delay, roleRestartMax)
	}
}

// roleExit are the log fields of a role command that exited after running
// for ran, to be restarted in delay.
func roleExit(t *Task, err error, ran, delay time.Duration) []zap.Field {
	code := -1
	if t.exitCode != nil {
		code = *t.exitCode
	}
	fields := []zap.Field{zap.Int("exit_code", code), zap.Duration("ran", ran), zap.Duration("restart_in", delay)}
	if err != nil {
		fields = append(fields, zap.String("error", err.Error()))
	}
	if t.stderr != "" {
		fields = append(fields, zap.String("stderr", tail(t.stderr, 1024)))
	}
	return fields
}

// tail keeps the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
