#!/usr/bin/env bash
# ensure-zookeeper.sh — make sure a ZooKeeper server jar and a Java runtime
# are available for Paddock's tests and benchmarks (package internal/zktest).
#
# Quiet and exit 0 when everything is already there. Otherwise installs
# Debian/Ubuntu's `zookeeper` package (which pulls in a Java runtime) with
# apt-get, using sudo when not root, and verifies the result.
#
# Environment (same as internal/zktest):
#   PADDOCK_ZK_JAR  ZooKeeper server jar, or a directory of jars such as the
#                   lib/ of an Apache release tarball
#                   (default /usr/share/java/zookeeper.jar)
#   JAVA            java binary (default: java on PATH)
set -euo pipefail

ZK_JAR="${PADDOCK_ZK_JAR:-/usr/share/java/zookeeper.jar}"
JAVA_BIN="${JAVA:-java}"

have_zookeeper() {
	[ -e "$ZK_JAR" ] && "$JAVA_BIN" -version >/dev/null 2>&1
}

fail() {
	cat >&2 <<MSG
ensure-zookeeper: $*

Paddock's tests run a real Apache ZooKeeper server (3.5 or newer) and need:
  - the ZooKeeper server jar at $ZK_JAR
    (Debian/Ubuntu: sudo apt-get install zookeeper;
     or set PADDOCK_ZK_JAR to the jar, or to the lib/ directory of an
     Apache ZooKeeper release tarball), and
  - a Java runtime (11 or newer) reachable as '$JAVA_BIN'
    (Debian/Ubuntu: sudo apt-get install default-jre-headless;
     or set JAVA to the java binary).
MSG
	exit 1
}

if have_zookeeper; then
	exit 0
fi

if [ -n "${PADDOCK_ZK_JAR:-}" ] && [ ! -e "$ZK_JAR" ]; then
	fail "PADDOCK_ZK_JAR is set to '$ZK_JAR', which does not exist; not installing anything."
fi

if ! command -v apt-get >/dev/null 2>&1; then
	fail "ZooKeeper or Java is missing and apt-get is not available to install them."
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=(sudo)
	else
		fail "ZooKeeper or Java is missing, and installing needs root (run as root, or install sudo)."
	fi
fi

echo "ensure-zookeeper: installing Debian package 'zookeeper' (and a Java runtime) with apt-get..." >&2
export DEBIAN_FRONTEND=noninteractive
if ! ${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2; then
	fail "'apt-get update' failed."
fi
if ! ${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends zookeeper >&2; then
	fail "'apt-get install zookeeper' failed."
fi

if ! have_zookeeper; then
	fail "installed the 'zookeeper' package, but still cannot find '$ZK_JAR' or run '$JAVA_BIN -version'."
fi
echo "ensure-zookeeper: ZooKeeper installed ($ZK_JAR)." >&2
