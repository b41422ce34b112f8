# shellcheck shell=bash
# Shared by scripts/demo.sh and scripts/cluster.sh: running a private
# ZooKeeper on loopback, and reading `client status --json` without jq.

ZK_JAR="${PADDOCK_ZK_JAR:-/usr/share/java/zookeeper.jar}"
JAVA_BIN="${JAVA:-java}"
TIMEOUT=()
command -v timeout >/dev/null 2>&1 && TIMEOUT=(timeout 2)

now_ms() {
	if [[ -n ${EPOCHREALTIME:-} ]]; then
		local t=${EPOCHREALTIME/[.,]/}
		echo $((10#$t / 1000))
	else
		date +%s%3N
	fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port: a port nothing listens on, below the kernel's ephemeral range.
free_port() {
	local p _
	for _ in {1..100}; do
		p=$((20000 + RANDOM % 12000))
		port_in_use "$p" || { echo "$p"; return 0; }
	done
	return 1
}

# srvr PORT: ZooKeeper's srvr four-letter word.
srvr() {
	# shellcheck disable=SC2016 # $1 is the inner shell's
	${TIMEOUT[@]+"${TIMEOUT[@]}"} bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf srvr >&3 && cat <&3' _ "$1" 2>/dev/null
}

# serving SRVR-OUTPUT: whether ZooKeeper answered with its mode (it serves).
serving() { [[ $1 == *$'\nMode: '* || $1 == 'Mode: '* ]]; }

zk_classpath() {
	local conf=$1
	if [[ -d $ZK_JAR ]]; then
		echo "$conf:$ZK_JAR/*"
	elif [[ -e "$(dirname "$ZK_JAR")/slf4j-simple.jar" ]]; then
		# Debian's jar has no SLF4J binding; slf4j-simple logs to stderr.
		echo "$conf:$ZK_JAR:$(dirname "$ZK_JAR")/slf4j-simple.jar"
	else
		echo "$conf:$ZK_JAR"
	fi
}

# zk_launch DIR PORT: write DIR/zoo.cfg for a standalone server on
# 127.0.0.1:PORT with its data in DIR/data, and start it in the background
# (its pid is then $!), logging to DIR/zookeeper.log. Prefix the command
# with the array SETSID, when set, to detach it from the terminal.
zk_launch() {
	local dir=$1 port=$2
	mkdir -p "$dir/data"
	cat >"$dir/logback.xml" <<'XML'
<configuration>
  <appender name="CONSOLE" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} [%thread] %-5level %logger{36} - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="CONSOLE"/></root>
</configuration>
XML
	cat >"$dir/zoo.cfg" <<-CFG
		tickTime=500
		initLimit=10
		syncLimit=5
		dataDir=$dir/data
		clientPort=$port
		clientPortAddress=127.0.0.1
		admin.enableServer=false
		4lw.commands.whitelist=*
		maxClientCnxns=0
	CFG
	${SETSID[@]+"${SETSID[@]}"} "$JAVA_BIN" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData \
		-Djava.net.preferIPv4Stack=true -cp "$(zk_classpath "$dir")" \
		org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
		</dev/null >>"$dir/zookeeper.log" 2>&1 &
}

leader_field() { # JSON FIELD → .leader.FIELD ("" when there is no leader)
	local obj
	obj=$(sed -n 's/.*"leader":{\([^}]*\)}.*/\1/p' <<<"$1")
	sed -n 's/.*"'"$2"'":"\{0,1\}\([^",]*\).*/\1/p' <<<"$obj"
}

backup_ids() { # JSON → the backups' ids, space-separated
	sed -n 's/.*"backups":\[\([^]]*\)\].*/\1/p' <<<"$1" | grep -o '"id":"[^"]*"' | sed 's/"id":"\(.*\)"/\1/' | tr '\n' ' ' || true
}
