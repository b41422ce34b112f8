package cli

import (
	"runtime/debug"
)

// Version is stamped at build time by make (-ldflags "-X ...cli.Version=...").
// When it is not, BuildVersion asks the Go toolchain instead.
var Version = "dev"

// BuildVersion is what --version prints: the stamped Version, else the
// module version 'go install' recorded, else the VCS revision 'go build'
// recorded in a checkout, so a binary built without make still says what
// it is.
func BuildVersion() string {
	if Version != "dev" && Version != "" {
		return Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Version
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return Version + " (" + bi.GoVersion + ")"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "-dirty"
	}
	return rev + " (" + bi.GoVersion + ")"
}
