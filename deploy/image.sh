#!/usr/bin/env bash
# image.sh — build Paddock's image (deploy/Dockerfile) with no registry:
# static binaries built here, a scratch base. Prints the image name.
#
#   deploy/image.sh [TAG]      (default paddock/paddock:dev; `make image` runs it)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
tag="${1:-${PADDOCK_IMAGE:-paddock/paddock:dev}}"
ctx="$repo/.tmp/image"
rm -rf "$ctx"
mkdir -p "$ctx"
version="$(git -C "$repo" describe --always --dirty 2>/dev/null || echo dev)"
for b in master worker client election; do
	CGO_ENABLED=0 go build -C "$repo" -trimpath \
		-ldflags "-s -w -X github.com/paddock-zk/paddock/internal/cli.Version=$version" \
		-o "$ctx/paddock-$b" "./cmd/$b"
done
printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin\n' >"$ctx/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$ctx/group"
if ! docker build -q -f "$here/Dockerfile" -t "$tag" --label "org.paddock.version=$version" "$ctx" >/dev/null 2>"$ctx/build.log"; then
	cat "$ctx/build.log" >&2
	exit 1
fi
echo "$tag"
