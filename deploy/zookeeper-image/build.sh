#!/usr/bin/env bash
# build.sh — build a ZooKeeper container image from the ZooKeeper and the
# Java runtime installed on this host (Debian's `zookeeper` package), with
# no registry: the root filesystem is assembled from host files and loaded
# with `docker import`.
#
# Usage: deploy/zookeeper-image/build.sh [TAG]
#   TAG defaults to $PADDOCK_ZK_LOCAL_IMAGE or paddock/zookeeper-host:<version>.
#
# What goes in (about 200 MB):
#   - the JRE that `java` on PATH (or $JAVA) belongs to: bin/java, lib/, conf/
#     (symlinks into /etc resolved),
#   - /usr/share/java (ZooKeeper's jar, whose manifest names its dependencies
#     there, and slf4j-simple so that the server logs),
#   - every shared library those ELF files need (from ldd), the dynamic loader,
#     dash as /bin/sh and mkdir, ls, cat, rm (the start script needs sh and mkdir),
#   - start-zookeeper.sh as /usr/local/bin/paddock-zk-start (the entrypoint),
#     a minimal /etc/passwd, /tmp.
# The image has an ENTRYPOINT, ENV and labels set with `docker import --change`
# (an imported image has none otherwise). The tests override the entrypoint
# anyway, so they run the official `zookeeper` image the same way.
#
# Needs: docker, a Debian-like host with the zookeeper package installed
# (scripts/ensure-zookeeper.sh), ldd, tar. Takes a few seconds; run by
# ensure.sh only when the image is missing.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
ZK_JAR_DIR=/usr/share/java
ZK_JAR="$ZK_JAR_DIR/zookeeper.jar"

die() { echo "zookeeper-image/build: $*" >&2; exit 1; }

command -v docker >/dev/null 2>&1 || die "docker is not installed"
command -v ldd >/dev/null 2>&1 || die "ldd is missing (Debian package libc-bin)"
[ -e "$ZK_JAR" ] || die "no ZooKeeper at $ZK_JAR (run scripts/ensure-zookeeper.sh)"
java_bin="$(command -v "${JAVA:-java}" || true)"
[ -n "$java_bin" ] || die "no java on PATH (run scripts/ensure-zookeeper.sh)"
java_bin="$(readlink -f "$java_bin")"
JAVA_HOME="$(dirname "$(dirname "$java_bin")")"
[ -f "$JAVA_HOME/lib/modules" ] || die "$java_bin does not look like a JDK/JRE 9+ (no $JAVA_HOME/lib/modules)"

zk_version="$(dpkg-query -W -f '${Version}' zookeeper 2>/dev/null | sed 's/-.*//' || true)"
zk_version="${zk_version:-local}"
build_hash="$(cat "$here/build.sh" "$here/start-zookeeper.sh" | sha256sum | cut -c1-12)"
tag="${1:-${PADDOCK_ZK_LOCAL_IMAGE:-paddock/zookeeper-host:$zk_version}}"

work="$(mktemp -d "${TMPDIR:-/tmp}/paddock-zk-image.XXXXXX")"
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$root"

# Mirror the host's merged-/usr symlinks (/bin -> usr/bin, ...) so that the
# paths ldd prints and the ELF interpreter path resolve the same way inside.
for d in bin sbin lib lib64 lib32 libx32; do
	if [ -L "/$d" ]; then
		ln -s "$(readlink "/$d")" "$root/$d"
		mkdir -p "$root/$(readlink -f "/$d" | sed 's|^/||')"
	fi
done

# copy_file SRC: copy SRC (dereferenced) to the same path under the rootfs.
copy_file() {
	local src="$1" dst="$root$1"
	[ -e "$dst" ] && return 0
	mkdir -p "$(dirname "$dst")"
	cp -L --preserve=mode "$src" "$dst"
}

# copy_tree SRC: copy a directory tree, resolving symlinks (many of the
# JRE's point into /etc) and skipping dangling ones (docs, src.zip).
copy_tree() {
	local src="$1" f
	while IFS= read -r -d '' f; do
		if [ -e "$f" ] && [ ! -d "$f" ]; then
			copy_file "$f"
		fi
	done < <(find "$src" \( -type f -o -type l \) -print0)
}

# The JRE, without what a server never needs.
copy_file "$JAVA_HOME/bin/java"
[ -f "$JAVA_HOME/release" ] && copy_file "$JAVA_HOME/release"
copy_tree "$JAVA_HOME/conf"
while IFS= read -r -d '' f; do
	case "$(basename "$f")" in
	src.zip | ct.sym | libawt_xawt.so | libsplashscreen.so | libjsound.so | libatk-wrapper.so) continue ;;
	esac
	[ -e "$f" ] && [ ! -d "$f" ] && copy_file "$f"
done < <(find "$JAVA_HOME/lib" \( -type f -o -type l \) -print0)
mkdir -p "$root/usr/bin"
ln -sf "$JAVA_HOME/bin/java" "$root/usr/bin/java"

# ZooKeeper and its dependencies (relative symlinks kept: they resolve inside).
mkdir -p "$root$ZK_JAR_DIR"
cp -a "$ZK_JAR_DIR/." "$root$ZK_JAR_DIR/"

# A shell for the start script, and a few tools to look around with.
copy_file "$(readlink -f /bin/sh)"
[ -e "$root/bin/sh" ] || ln -s "$(readlink -f /bin/sh)" "$root/bin/sh"
for tool in mkdir ls cat rm; do
	p="$(command -v "$tool")" && copy_file "$(readlink -f "$p")"
	[ -e "$root/bin/$tool" ] || ln -s "$(readlink -f "$p")" "$root/bin/$tool"
done

# Shared libraries of every ELF file copied so far (and of those).
libs="$work/libs"
: >"$libs"
while IFS= read -r -d '' f; do
	case "$f" in *.so | *.so.* | */bin/*) ;; *) continue ;; esac
	host="${f#"$root"}"
	{ ldd "$host" 2>/dev/null || true; } | awk '/=> \//{print $3} /^[ \t]*\/.*\(0x/{print $1}' >>"$libs"
done < <(find "$root" -type f -print0)
sort -u "$libs" | while read -r lib; do
	copy_file "$lib"
done
# Libraries the JVM dlopens without linking them: keep the whole set of
# glibc's NSS/resolver helpers that exist (harmless if absent).
for extra in libnss_files.so.2 libnss_dns.so.2 libresolv.so.2 libdl.so.2 libpthread.so.0 librt.so.1; do
	for dir in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib64 /usr/lib64 "/lib/$(uname -m)-linux-gnu"; do
		if [ -e "$dir/$extra" ]; then
			copy_file "$dir/$extra"
			break
		fi
	done
done

# The start script, and the little an image needs.
install -D -m 0755 "$here/start-zookeeper.sh" "$root/usr/local/bin/paddock-zk-start"
mkdir -p "$root/etc" "$root/tmp" "$root/root" "$root/paddock-zk"
chmod 1777 "$root/tmp"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
echo 'hosts: files dns' >"$root/etc/nsswitch.conf"

tar -C "$root" --numeric-owner -cf - . | docker import \
	--change "ENV JAVA_HOME=$JAVA_HOME PATH=/usr/local/bin:/usr/bin:/bin" \
	--change 'ENTRYPOINT ["/usr/local/bin/paddock-zk-start"]' \
	--change 'EXPOSE 2181 2888 3888' \
	--change "LABEL org.paddock.zookeeper.version=$zk_version org.paddock.zookeeper.build=$build_hash org.paddock.zookeeper.source=host-debian-package" \
	--message "paddock: ZooKeeper $zk_version and $(basename "$JAVA_HOME") from the host, no registry" \
	- "$tag" >/dev/null
# Smoke test: the assembled JRE must start inside a container.
if ! out="$(docker run --rm --entrypoint /usr/bin/java "$tag" -version 2>&1)"; then
	docker image rm -f "$tag" >/dev/null 2>&1 || true
	die "the assembled Java runtime does not start in the image: $out"
fi
echo "zookeeper-image/build: built $tag (ZooKeeper $zk_version, $(du -sh "$root" | cut -f1))" >&2
echo "$tag"
