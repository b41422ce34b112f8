// Package deploy checks the deployment files in deploy/: that the systemd
// units verify, and that the image and compose file run a cluster that
// survives losing its leader.
package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// units are the shipped systemd units and the binaries they start.
var units = map[string]string{
	"paddock-master@.service": "/usr/local/bin/paddock-master",
	"paddock-worker@.service": "/usr/local/bin/paddock-worker",
}

// TestSystemdUnitsVerify runs systemd-analyze verify on each unit, as an
// instance, in a scratch root holding the units, the binaries they name
// and the system's own units (the default dependencies), and fails on any
// warning: systemd-analyze exits 0 on unknown keys, so its output is what
// tells.
func TestSystemdUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze is missing (Debian package systemd; run 'make tools'): %v", err)
	}
	root := t.TempDir()
	sysUnits := "/usr/lib/systemd/system"
	if _, err := os.Stat(sysUnits); err != nil {
		sysUnits = "/lib/systemd/system"
	}
	copyTree(t, sysUnits, filepath.Join(root, "usr/lib/systemd/system"))
	for unit, bin := range units {
		copyFile(t, filepath.Join("../../deploy/systemd", unit), filepath.Join(root, "etc/systemd/system", unit), 0o644)
		writeExe(t, filepath.Join(root, bin))
	}
	copyFile(t, "../../deploy/systemd/paddock.env", filepath.Join(root, "etc/paddock/paddock.env"), 0o600)
	for unit := range units {
		instance := strings.Replace(unit, "@.", "@test1.", 1)
		out, err := exec.Command(analyze, "verify", "--root="+root, instance).CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", instance, err, out)
		}
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", from+"/.", to).CombinedOutput(); err != nil {
		t.Fatalf("cp %s: %v\n%s", from, err, out)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// writeExe puts an executable where a unit's ExecStart= points: verify
// checks that the command exists and is executable, not what it does.
func writeExe(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}
