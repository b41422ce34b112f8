#!/usr/bin/env bash
# ensure.sh — make sure a ZooKeeper image for the end-to-end tests (test/e2e)
# is present, and print its name on stdout (messages go to stderr).
#
#   1. $PADDOCK_ZK_IMAGE (default zookeeper:3.8, the official image), if the
#      engine has it;
#   2. else, when PADDOCK_ZK_IMAGE is not set, the local image below if it was
#      built already (a machine without a registry does not try to pull on
#      every run; set PADDOCK_ZK_IMAGE=zookeeper:3.8 to insist on pulling);
#   3. else pull $PADDOCK_ZK_IMAGE (skipped with PADDOCK_ZK_PULL=0; bounded
#      by PADDOCK_ZK_PULL_TIMEOUT seconds, default 60);
#   4. else build the image build.sh makes from the host's ZooKeeper and JRE
#      with no registry ($PADDOCK_ZK_LOCAL_IMAGE, default
#      paddock/zookeeper-host:<version>); it is rebuilt only when missing or
#      made by another version of build.sh/start-zookeeper.sh (label
#      org.paddock.zookeeper.build). ZooKeeper is installed on the host first
#      if needed (scripts/ensure-zookeeper.sh).
#
# `make zk-image` and the e2e tests' TestMain run it; it takes well under a
# second when the image is there.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
want="${PADDOCK_ZK_IMAGE:-zookeeper:3.8}"

command -v docker >/dev/null 2>&1 || { echo "zookeeper-image: docker is not installed" >&2; exit 1; }
if ! docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
	echo "zookeeper-image: cannot reach the Docker engine: $(docker version 2>&1 | tail -n 1)" >&2
	exit 1
fi

if docker image inspect "$want" >/dev/null 2>&1; then
	echo "$want"
	exit 0
fi

local_tag() {
	local v
	v="$(dpkg-query -W -f '${Version}' zookeeper 2>/dev/null | sed 's/-.*//' || true)"
	echo "${PADDOCK_ZK_LOCAL_IMAGE:-paddock/zookeeper-host:${v:-local}}"
}
build_hash="$(cat "$here/build.sh" "$here/start-zookeeper.sh" | sha256sum | cut -c1-12)"
local_is_current() {
	[ "$(docker image inspect --format '{{index .Config.Labels "org.paddock.zookeeper.build"}}' "$1" 2>/dev/null || true)" = "$build_hash" ]
}

if [ -z "${PADDOCK_ZK_IMAGE:-}" ] && local_is_current "$(local_tag)"; then
	echo "zookeeper-image: using $(local_tag) (built earlier from the host's ZooKeeper; $want is not here)" >&2
	local_tag
	exit 0
fi

if [ "${PADDOCK_ZK_PULL:-1}" != 0 ]; then
	echo "zookeeper-image: $want is not here; trying to pull it..." >&2
	errf="$(mktemp)"
	if timeout "${PADDOCK_ZK_PULL_TIMEOUT:-60}" docker pull -q "$want" >/dev/null 2>"$errf"; then
		rm -f "$errf"
		echo "$want"
		exit 0
	fi
	echo "zookeeper-image: cannot pull $want: $(tail -n 1 "$errf")" >&2
	rm -f "$errf"
fi

# The local image, from the host's ZooKeeper.
"$here/../../scripts/ensure-zookeeper.sh" >&2
tag="$(local_tag)"
if local_is_current "$tag"; then
	echo "zookeeper-image: using $tag (built earlier from the host's ZooKeeper)" >&2
	echo "$tag"
	exit 0
fi
if docker image inspect "$tag" >/dev/null 2>&1; then
	echo "zookeeper-image: $tag was built by another version of build.sh; rebuilding" >&2
fi
echo "zookeeper-image: building $tag from the host's ZooKeeper and Java (no registry)..." >&2
start=$(date +%s)
"$here/build.sh" "$tag" >/dev/null
echo "zookeeper-image: built $tag in $(($(date +%s) - start)) s" >&2
echo "$tag"
