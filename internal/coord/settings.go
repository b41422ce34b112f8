package coord

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

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

// Setting is one key Paddock reads from its config.
type Setting struct {
	Key   string
	Help  string
	check func(string) error
}

var settings = []Setting{
	{KeyWorkerConcurrency, "tasks a worker runs at once (overrides worker --concurrency)", func(v string) error {
		_, err := ParseConcurrency(v)
		return err
	}},
	{KeyMasterRetention, "how long the leader keeps results nobody collected (overrides master --retention)", func(v string) error {
		_, err := ParseRetention(v)
		return err
	}},
	{KeyMasterLeaders, "how many masters lead at once, each over its own partitions of the tasks (1 to 16; default 1: one leader, the others hot backups)", func(v string) error {
		_, err := ParseLeaders(v)
		return err
	}},
	{KeyMasterDeadRetention, "how long the leader keeps dead letters nobody requeued or purged (overrides master --dead-retention)", func(v string) error {
		_, err := ParseRetention(v)
		return err
	}},
}

// Settings lists the keys Paddock reads, sorted.
func Settings() []Setting {
	out := append([]Setting(nil), settings...)
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// CheckSetting validates a key and its value before anything is written.
func CheckSetting(key, value string) error {
	for _, s := range settings {
		if s.Key == key {
			if err := s.check(value); err != nil {
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
