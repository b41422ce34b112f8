#!/bin/sh
# start-zookeeper.sh — run one ZooKeeper server in the foreground inside a
# container, from a zoo.cfg the caller provides, in either of two images:
#
#   - the image deploy/zookeeper-image/build.sh makes from the host's Debian
#     packages (ZooKeeper's jars in /usr/share/java), where this script is
#     the entrypoint (/usr/local/bin/paddock-zk-start);
#   - the official `zookeeper` image (an Apache release in
#     /apache-zookeeper-*-bin with zkServer.sh on PATH, Java from
#     eclipse-temurin), whose own entrypoint conventions (ZOO_MY_ID,
#     ZOO_SERVERS, a generated /conf/zoo.cfg) are bypassed: the tests copy
#     this script into the container and make it the entrypoint.
#
# Environment:
#   ZK_CONF    the zoo.cfg (default /paddock-zk/zoo.cfg); its directory goes
#              first on the class path (logback.xml / log4j.properties)
#   ZK_MYID    if set, written to <dataDir>/myid (ensemble members)
#   JVMFLAGS   extra JVM flags
set -eu

# Only shell builtins and mkdir: the local image has little else.
conf="${ZK_CONF:-/paddock-zk/zoo.cfg}"
[ -f "$conf" ] || { echo "paddock-zk-start: no $conf" >&2; exit 1; }
confdir="${conf%/*}"
datadir=/data
while IFS='=' read -r key value; do
	case "$key" in
	dataDir) datadir="$value" ;;
	esac
done <"$conf"
mkdir -p "$datadir"
if [ -n "${ZK_MYID:-}" ]; then
	echo "$ZK_MYID" >"$datadir/myid"
fi

if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
	java="$JAVA_HOME/bin/java"
else
	java="$(command -v java)" || { echo "paddock-zk-start: no java" >&2; exit 1; }
fi

cp=""
if [ -e /usr/share/java/zookeeper.jar ]; then
	# Debian: the jar's manifest names its dependencies; slf4j-simple logs.
	cp=/usr/share/java/zookeeper.jar
	[ -e /usr/share/java/slf4j-simple.jar ] && cp="$cp:/usr/share/java/slf4j-simple.jar"
else
	# An Apache release: every jar in lib/.
	home=""
	if zks="$(command -v zkServer.sh 2>/dev/null)"; then
		home="${zks%/*}"
		home="${home%/*}"
	fi
	for d in "$home" /apache-zookeeper-*-bin /opt/zookeeper /zookeeper; do
		for jar in "$d"/lib/*.jar; do
			if [ -n "$d" ] && [ -e "$jar" ]; then
				cp="$d/lib/*"
				break 2
			fi
		done
	done
fi
[ -n "$cp" ] || { echo "paddock-zk-start: cannot find ZooKeeper's jars" >&2; exit 1; }

# Logs to the console at INFO (the official image's logback would otherwise
# log at DEBUG without a configuration).
if [ ! -e "$confdir/logback.xml" ] && [ -w "$confdir" ]; then
	printf '%s\n' '<configuration>' \
		'  <appender name="CONSOLE" class="ch.qos.logback.core.ConsoleAppender">' \
		'    <encoder><pattern>%d{HH:mm:ss.SSS} [myid:%X{myid}] %-5level %logger{0} - %msg%n</pattern></encoder>' \
		'  </appender>' \
		'  <root level="INFO"><appender-ref ref="CONSOLE"/></root>' \
		'</configuration>' >"$confdir/logback.xml"
fi

# shellcheck disable=SC2086 # JVMFLAGS is a list of flags
exec "$java" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData \
	-Djava.net.preferIPv4Stack=true -Dzookeeper.admin.enableServer=false \
	-Dorg.slf4j.simpleLogger.showDateTime=true -Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS \
	${JVMFLAGS:-} -cp "$confdir:$cp" org.apache.zookeeper.server.quorum.QuorumPeerMain "$conf"
