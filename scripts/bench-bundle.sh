#!/usr/bin/env bash
# bench-bundle.sh DIR [BASELINE_REF]: everything `make bench` needs to run on
# another Linux x86-64 host that has neither Go nor Java nor ZooKeeper (a
# larger machine lent for a measurement, with no network): the binaries
# (static), the bench's test binary, ZooKeeper's jars and a jlinked Java
# runtime, plus run.sh, which runs the bench there. With BASELINE_REF, that
# ref's binaries too, for the A/B windows.
#
#   scripts/bench-bundle.sh .devbench afed12f
#   (copy .devbench over)  .devbench/run.sh OUTDIR
#
# Needs here: go, git, a JDK (jlink), and Debian's zookeeper package
# (scripts/ensure-zookeeper.sh).
set -euo pipefail
dir=${1:?usage: bench-bundle.sh DIR [BASELINE_REF]}
ref=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

build() { # build SRC OUT: static, stripped master, worker and client
	(cd "$1" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$2/" ./cmd/master ./cmd/worker ./cmd/client)
}
echo "bench-bundle: binaries"
build "$root" "$stage/bin"
(cd "$root" && CGO_ENABLED=0 go test -c -trimpath -ldflags='-s -w' -o "$stage/bench.test" ./test/bench)
if [ -n "$ref" ]; then
	echo "bench-bundle: binaries of $ref"
	src=$(mktemp -d)
	git -C "$root" archive "$ref" | tar -x -C "$src"
	build "$src" "$stage/old"
	git -C "$root" rev-parse --verify "$ref^{commit}" >"$stage/old/COMMIT"
	rm -rf "$src"
fi

echo "bench-bundle: ZooKeeper's jars"
jar=/usr/share/java/zookeeper.jar
mkdir -p "$stage/zk"
deps=$(unzip -p "$jar" META-INF/MANIFEST.MF | tr -d '\r' | sed -n '/^Class-Path:/,/^[A-Z]/p' | sed 's/^ //' | tr -d '\n' |
	sed 's/^Class-Path: //; s/[A-Z][A-Za-z-]*:.*$//')
for j in "$jar" $deps /usr/share/java/slf4j-simple.jar /usr/share/java/netty-codec.jar \
	/usr/share/java/netty-resolver.jar /usr/share/java/netty-transport-native-unix-common.jar; do
	[ -e "$j" ] && cp -L "$j" "$stage/zk/"
done

echo "bench-bundle: a Java runtime (jlink)"
jlink --add-modules java.base,java.management,java.naming,java.security.sasl,java.xml,jdk.management,jdk.unsupported,java.logging,jdk.zipfs,jdk.jcmd,jdk.attach \
	--strip-debug --no-man-pages --no-header-files --output "$stage/jre"

cat >"$stage/run.sh" <<'RUN'
#!/usr/bin/env bash
# run.sh OUTDIR [go test flags]: the bench from this bundle; the report is
# OUTDIR/bench-report.json (OUTDIR/bench-large.json for -test.run TestLarge). PADDOCK_BENCH_* variables pass through (e.g.
# PADDOCK_BENCH_SCALE=16x16,4x256, PADDOCK_BENCH_SCALE_ROUNDS=5, PADDOCK_BENCH_COST_TASKS, PADDOCK_BENCH_JVM).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: run.sh OUTDIR [-test.run ...]}
shift
mkdir -p "$out"
export JAVA=$here/jre/bin/java PADDOCK_ZK_JAR=$here/zk PADDOCK_BINS=$here/bin PADDOCK_BENCH_OUT=$out/bench-report.json \
	PADDOCK_BENCH_LARGE_OUT=$out/bench-large.json PATH=$here/jre/bin:$PATH
[ -d "$here/old" ] && export PADDOCK_BENCH_BASELINE=$here/old
cd "$here"
exec ./bench.test -test.v -test.count=1 -test.timeout 60m "$@"
RUN
chmod +x "$stage/run.sh"
echo "bench-bundle: packing"
tar -C "$stage" -cJf "$dir/bundle.tar.xz" .
du -h "$dir/bundle.tar.xz"
