package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/paddock-zk/paddock"
	"github.com/paddock-zk/paddock/internal/cli"
)

// ls, inspect, requeue and purge refuse bad usage with exit 2 before
// connecting (the client is pointed at a port where nothing listens, so a
// connection attempt would exit 1 instead).
func TestTaskCommandsUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ls", "--state", "sleeping"}, "unknown state"},
		{[]string{"ls", "--limit", "0"}, "--limit 0"},
		{[]string{"ls", "--scan", "0"}, "--scan"},
		{[]string{"ls", "--kind", "Bad Kind"}, "not a kind name"},
		{[]string{"ls", "--reason", "malformed"}, "--state dead"},
		{[]string{"ls", "extra"}, "unknown command"},
		{[]string{"inspect"}, "accepts 1 arg"},
		{[]string{"inspect", "nope"}, "not a task id"},
		{[]string{"inspect", "1a1fdd9a6470b11fcf60", "--preview", "-1"}, "--preview"},
		{[]string{"requeue"}, "--dead"},
		{[]string{"requeue", "1a1fdd9a6470b11fcf60", "--dead"}, "not both"},
		{[]string{"requeue", "--reason", "malformed"}, "--reason"},
		{[]string{"requeue", "nope"}, "not a task id"},
		{[]string{"purge", "--older-than", "1h"}, "--finished, --dead"},
		{[]string{"purge", "--dead"}, "--older-than is required"},
		{[]string{"purge", "--dead", "--older-than", "soon"}, "not a duration"},
		{[]string{"purge", "--dead", "--older-than", "-5m"}, "not a duration"},
		{[]string{"purge", "--dead", "--older-than", "NaNd"}, "not a duration"},
	} {
		_, err := run(t, tc.args...)
		if exitCode(err) != cli.ExitUsage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: exit %d (%v), want %d mentioning %q", tc.args, exitCode(err), err, cli.ExitUsage, tc.want)
		}
	}
	// Valid usage gets as far as connecting.
	for _, args := range [][]string{
		{"ls", "--state", "dead", "--reason", "max-attempts", "--limit", "5"},
		{"purge", "--finished", "--dead", "--older-than", "1.5d"},
		{"requeue", "--dead"},
	} {
		if _, err := run(t, args...); exitCode(err) != cli.ExitFailure || !strings.Contains(err.Error(), "cannot reach ZooKeeper") {
			t.Errorf("%v: %v, want a connection failure", args, err)
		}
	}
}

func TestTaskCommandsHelp(t *testing.T) {
	for _, cmd := range []string{"ls", "inspect", "requeue", "purge"} {
		out, err := run(t, cmd, "--help")
		if err != nil || !strings.Contains(out, "Examples:") || len(out) < 600 {
			t.Errorf("%s --help: %v\n%s", cmd, err, out)
		}
	}
}

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0s": 0, "90m": 90 * time.Minute, "36h": 36 * time.Hour, "7d": 7 * 24 * time.Hour, "1.5d": 36 * time.Hour,
	} {
		if got, err := parseAge(in); err != nil || got != want {
			t.Errorf("parseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "7", "-1d", "1e9d", "Infd", "week"} {
		if _, err := parseAge(in); err == nil {
			t.Errorf("parseAge(%q) accepted", in)
		}
	}
}

func TestAge(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		0: "0s", 45 * time.Second: "45s", 3*time.Minute + 12*time.Second: "3m12s",
		5*time.Hour + 4*time.Minute: "5h4m", 55 * time.Hour: "2d7h", -time.Second: "0s",
	} {
		if got := age(now, now.Add(-d)); got != want {
			t.Errorf("age(%v) = %q, want %q", d, got, want)
		}
	}
	if age(now, time.Time{}) != "-" {
		t.Error("unknown time")
	}
}

func TestListingTable(t *testing.T) {
	now := time.Now()
	ls := paddock.Listing{State: paddock.StateDead, Total: 3, Tasks: []paddock.ListedTask{
		{ID: "1a1fdd9a6470b11fcf60", State: paddock.StateDead, Kind: "echo", Since: now.Add(-time.Hour), Attempts: 3, Reason: "max-attempts", Worker: "w1"},
		{ID: "1a1fdd9a6470b11fcf61", State: paddock.StateDead, Since: now, Malformed: "malformed: empty"},
	}, More: true}
	var out bytes.Buffer
	if err := printListing(&out, ls, now); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "REASON") ||
		!strings.Contains(lines[0], "NOTE") || !strings.Contains(lines[1], "1h0m") || !strings.Contains(lines[1], "max-attempts") ||
		!strings.Contains(lines[2], "malformed: malformed: empty") || !strings.Contains(lines[2], " ? ") {
		t.Errorf("table:\n%s", out.String())
	}
	if s := listingSummary(ls, 2, 12*time.Millisecond); !strings.Contains(s, "2 of 3 dead tasks, the oldest (--limit 2)") {
		t.Errorf("summary %q", s)
	}
}

func TestInspectionText(t *testing.T) {
	now := time.Now()
	in := paddock.Inspection{ID: "1a1fdd9a6470b11fcf60", State: paddock.StateDead, Kind: "echo", Attempts: 3, MaxAttempts: 3,
		LastWorker: "w2", SubmittedAt: now.Add(-time.Hour), DeadAt: now,
		DeadLetter: &paddock.DeadLetter{Reason: "max-attempts", Detail: "assigned 3 times", Spec: "{}"},
		Payload:    &paddock.PayloadInfo{Size: 5, Preview: "hello"}, Problems: []string{"result record: malformed: empty"}}
	var out bytes.Buffer
	if err := printInspection(&out, in, now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"state:", "dead", "attempts:", "3 of 3", "last worker:", "w2", "dead letter:",
		"max-attempts: assigned 3 times", "spec (as stored):", "payload:", "5 bytes: hello", "problem:", "(1h0m ago)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("inspect text lacks %q:\n%s", want, out.String())
		}
	}
}
