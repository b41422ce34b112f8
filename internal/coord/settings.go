package coord

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/paddock-zk/paddock/internal/task"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
)

// Paddock's live settings, kept in the distributed config at <root>/config
// (service-wide) and <root>/config/<process> (one master's or worker's
// overrides). A value set there overrides the process's flag until unset.
const (
	KeyWorkerConcurrency   = "worker.concurrency"
	KeyMasterRetention     = "master.retention"
	KeyMasterDeadRetention = "master.dead-retention"
	KeyMasterLeaders       = "master.leaders"
)

// KeyRetryPrefix starts the settings retry.<kind>: the retry policy of a
// failed task of that kind submitted without one of its own. Kinds are
// open-ended, so this is a family of keys rather than one.
const KeyRetryPrefix = "retry."

// Setting is one key Paddock reads from its config, or a family of keys
// (Key "retry.<kind>"): a prefix and a name.
type Setting struct {
	Key    string
	Help   string
	prefix string // a family's: every key prefix+name is one of its
	check  func(key, value string) error
}

// Family reports whether s is a family of keys, so that a listing of the
// settings in force does not show Key itself as one.
func (s Setting) Family() bool { return s.prefix != "" }

// Matches reports whether key is s or, for a family, one of its keys.
func (s Setting) Matches(key string) bool {
	if s.prefix == "" {
		return key == s.Key
	}
	return len(key) > len(s.prefix) && key[:len(s.prefix)] == s.prefix
}

// one adapts the check of a single key.
func one(check func(string) error) func(string, string) error {
	return func(_, v string) error { return check(v) }
}

var settings = []Setting{
	{Key: KeyWorkerConcurrency, Help: "tasks a worker runs at once (overrides worker --concurrency)", check: one(func(v string) error {
		_, err := ParseConcurrency(v)
		return err
	})},
	{Key: KeyMasterRetention, Help: "how long the leader keeps results nobody collected (overrides master --retention)", check: one(func(v string) error {
		_, err := ParseRetention(v)
		return err
	})},
	{Key: KeyMasterLeaders, Help: "how many masters lead at once, each over its own partitions of the tasks (1 to 16; default 1: one leader, the others hot backups)", check: one(func(v string) error {
		_, err := ParseLeaders(v)
		return err
	})},
	{Key: KeyMasterDeadRetention, Help: "how long the leader keeps dead letters nobody requeued or purged (overrides master --dead-retention)", check: one(func(v string) error {
		_, err := ParseRetention(v)
		return err
	})},
	{Key: KeyRetryPrefix + "<kind>", prefix: KeyRetryPrefix,
		Help: "retry policy of a failed task of that kind submitted without one: 3, max=5,initial=1s,max-delay=5m,multiplier=2,jitter=0.2, or {\"max_retries\":5,\"initial_ms\":500}",
		check: func(key, v string) error {
			_, err := ParseRetrySetting(key[len(KeyRetryPrefix):], v)
			return err
		}},
}

// ParseRetrySetting parses the value of retry.<kind>: what `client config
// set` checks and what workers apply are the same parse.
func ParseRetrySetting(kind, v string) (task.RetryPolicy, error) {
	if !task.ValidKind(kind) {
		return task.RetryPolicy{}, fmt.Errorf("%q is not a task kind", kind)
	}
	return task.ParseRetryPolicy(v)
}

// Settings lists the keys Paddock reads, sorted.
func Settings() []Setting {
	out := append([]Setting(nil), settings...)
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// KnownSetting reports whether Paddock reads key.
func KnownSetting(key string) bool {
	for _, s := range settings {
		if s.Matches(key) {
			return true
		}
	}
	return false
}

// CheckSetting validates a key and its value before anything is written.
func CheckSetting(key, value string) error {
	for _, s := range settings {
		if s.Matches(key) {
			if err := s.check(key, value); err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			return nil
		}
	}
	names := make([]string, 0, len(settings))
	for _, s := range Settings() {
		names = append(names, s.Key)
	}
	return fmt.Errorf("unknown setting %q; Paddock reads %v", key, names)
}

// ParseConcurrency parses a worker.concurrency value.
func ParseConcurrency(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 10000 {
		return 0, fmt.Errorf("%q is not a whole number from 1 to 10000", v)
	}
	return n, nil
}

// ParseRetention parses a master.retention or master.dead-retention value.
func ParseRetention(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration such as 30m or 24h", v)
	}
	return d, nil
}

// ParseLeaders parses the master.leaders setting: 1 to Partitions (more
// leaders than partitions would have nothing to lead).
func ParseLeaders(v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 || n > Partitions {
		return 0, fmt.Errorf("%q is not a number of leaders from 1 to %d", v, Partitions)
	}
	return n, nil
}

// PaddockConfig is the distributed config of layout l.
func PaddockConfig(c *zkclient.Client, l Layout) *recipe.ServiceConfig {
	return recipe.NewServiceConfig(c, l.Config())
}
