#!/usr/bin/env bash
# ensure-deb.sh — make sure a program the tests run is installed, installing
# its Debian package with apt-get (sudo when not root) when it is missing.
#
#   scripts/ensure-deb.sh PROGRAM PACKAGE [PACKAGE...]
#
# PROGRAM is a command name or an absolute path. Quiet, exit 0, when it is
# already there. ZooKeeper has its own script (ensure-zookeeper.sh): it
# checks a jar and a Java runtime, not a command.
set -euo pipefail

if [ $# -lt 2 ]; then
	echo "usage: $0 PROGRAM PACKAGE [PACKAGE...]" >&2
	exit 2
fi
prog=$1
shift

have() {
	if [[ $prog == /* ]]; then [ -x "$prog" ]; else command -v "$prog" >/dev/null 2>&1; fi
}

fail() {
	echo "ensure-deb: $*" >&2
	echo "ensure-deb: install it by hand (Debian/Ubuntu: sudo apt-get install $*) and run again." >&2
	exit 1
}

if have; then
	exit 0
fi
command -v apt-get >/dev/null 2>&1 || fail "'$prog' is missing and apt-get is not available: $*"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || fail "'$prog' is missing and installing needs root: $*"
	SUDO=(sudo)
fi
echo "ensure-deb: installing $* for '$prog' with apt-get..." >&2
install() {
	${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2
}
# A fresh machine may have stale or no package lists: update once and retry.
if ! install "$@"; then
	${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || fail "'apt-get update' failed"
	install "$@" || fail "'apt-get install $*' failed"
fi
have || fail "installed $*, but '$prog' is still not there"
echo "ensure-deb: $* installed." >&2
