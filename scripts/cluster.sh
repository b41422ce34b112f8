#!/usr/bin/env bash
# cluster.sh — a local Paddock cluster that keeps running, to play with:
# a private ZooKeeper, 2 masters and 2 workers on 127.0.0.1.
#
#   scripts/cluster.sh up          start it (make cluster-up)
#   scripts/cluster.sh status      its processes and 'client status' (make cluster-status)
#   scripts/cluster.sh down        stop everything it started (make cluster-down)
#   scripts/cluster.sh logs [-f]   the last lines of every log (-f: follow)
#
# State (pids, port, zoo.cfg, ZooKeeper data, logs) lives in .tmp/cluster/
# under the repository. ZooKeeper listens on 127.0.0.1:2181 when that port is
# free, else on another free port; 'up' prints the PADDOCK_ZK line to export.
#
# Environment: PADDOCK_ZK_JAR (ZooKeeper jar, or a directory of jars; default
# /usr/share/java/zookeeper.jar) and JAVA (default: java on PATH), as for
# scripts/ensure-zookeeper.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BIN="$ROOT/bin"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
STATE="$ROOT/.tmp/cluster"
PROCS="$STATE/procs" # one "name pid" per line, ZooKeeper first
PORT_FILE="$STATE/port"
SESSION_TIMEOUT=4s
MEMBERS=(master-1 master-2 worker-1 worker-2)

if [[ -t 1 && -z ${NO_COLOR:-} ]]; then
	B=$'\e[1m' D=$'\e[2m' G=$'\e[32m' R=$'\e[31m' N=$'\e[0m'
else
	B='' D='' G='' R='' N=''
fi
die() {
	printf '%scluster:%s %s\n' "$R" "$N" "$*" >&2
	exit 1
}

SETSID=()
command -v setsid >/dev/null 2>&1 && SETSID=(setsid)


alive() {
	local stat
	if [[ -r /proc/$1/stat ]]; then
		stat=$(<"/proc/$1/stat") 2>/dev/null || return 1
		stat=${stat##*) }
		[[ ${stat%% *} != Z ]]
	else
		kill -0 "$1" 2>/dev/null
	fi
}

# ours NAME PID: PID is alive and is the process this script started as NAME
# (not a stranger that reused the pid).
ours() {
	local name=$1 pid=$2 cmd
	alive "$pid" || return 1
	[[ -r /proc/$pid/cmdline ]] || return 0
	cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	if [[ $name == zookeeper ]]; then
		[[ $cmd == *QuorumPeerMain*"$STATE/zk/zoo.cfg"* ]]
	else
		[[ $cmd == *"$BIN/${name%%-*} "*" --id $name "* && $cmd == *" 127.0.0.1:$PORT "* ]]
	fi
}


# read_state fills NAMES, PIDS and PORT from the state files; false when no
# cluster was started (or it was stopped).
NAMES=()
PIDS=()
PORT=''
read_state() {
	[[ -f $PROCS ]] || return 1
	local name pid
	NAMES=() PIDS=()
	while read -r name pid; do
		[[ -n $name && -n $pid ]] || continue
		NAMES+=("$name")
		PIDS+=("$pid")
	done <"$PROCS"
	PORT=$(cat "$PORT_FILE" 2>/dev/null || true)
	return 0
}
record() { # NAME PID
	NAMES+=("$1")
	PIDS+=("$2")
	echo "$1 $2" >>"$PROCS"
}
pid_of() {
	local i
	for i in "${!NAMES[@]}"; do [[ ${NAMES[i]} == "$1" ]] && { echo "${PIDS[i]}"; return 0; }; done
	return 1
}
any_running() {
	local i
	for i in "${!NAMES[@]}"; do ours "${NAMES[i]}" "${PIDS[i]}" && return 0; done
	return 1
}

# stop_named SECONDS NAME...: SIGTERM those of NAME still running, wait up to
# SECONDS, then SIGKILL. Prints one line per process.
stop_named() {
	local limit=$1 name pid deadline left
	shift
	local todo=()
	for name; do
		pid=$(pid_of "$name") || continue
		if ours "$name" "$pid"; then
			kill -TERM "$pid" 2>/dev/null || true
			todo+=("$name")
		else
			printf '  %-10s pid %-7s %salready gone%s\n' "$name" "$pid" "$D" "$N"
		fi
	done
	deadline=$(($(now_ms) + limit * 1000))
	while ((${#todo[@]} > 0)); do
		left=()
		for name in "${todo[@]}"; do
			pid=$(pid_of "$name")
			if alive "$pid"; then
				left+=("$name")
			else
				printf '  %-10s pid %-7s stopped\n' "$name" "$pid"
			fi
		done
		todo=(${left[@]+"${left[@]}"})
		((${#todo[@]} > 0)) || break
		if (($(now_ms) >= deadline)); then
			for name in "${todo[@]}"; do
				pid=$(pid_of "$name")
				kill -KILL "$pid" 2>/dev/null || true
				printf '  %-10s pid %-7s %skilled (ignored SIGTERM for %ss)%s\n' "$name" "$pid" "$R" "$limit" "$N"
			done
			break
		fi
		sleep 0.1
	done
}

stop_all() {
	stop_named 15 "${MEMBERS[@]}" # workers drain running tasks for up to 10 s
	stop_named 10 zookeeper
	rm -f "$PROCS" "$PORT_FILE"
}

print_tails() {
	local f
	for f in "$STATE"/*.log "$STATE"/zk/zookeeper.log; do
		[[ -f $f ]] || continue
		printf '\n%s--- last lines of %s ---%s\n' "$B" "${f#"$ROOT"/}" "$N"
		tail -n 15 "$f"
	done
}

# ---------------------------------------------------------------- up

status_json() { "$BIN/client" status --zk "127.0.0.1:$PORT" --json --connect-timeout 3s 2>/dev/null; }

UP_DONE=0
up_cleanup() {
	local rc=$?
	trap '' INT TERM
	trap - EXIT
	if ((!UP_DONE)); then
		((rc == 130 || rc == 143)) && echo "interrupted; stopping what was started:" || echo "stopping what was started:"
		stop_all
		((rc == 130 || rc == 143)) || print_tails
		((rc != 0)) || rc=1
	fi
	exit "$rc"
}

start_zookeeper() {
	local dir="$STATE/zk" attempt t0 out
	for attempt in 1 2 3 4 5; do
		if ((attempt == 1)) && ! port_in_use 2181; then
			PORT=2181
		else
			PORT=$(free_port) || die "found no free port on 127.0.0.1"
		fi
		echo "$PORT" >"$PORT_FILE"
		t0=$(now_ms)
		zk_launch "$dir" "$PORT"
		: >"$PROCS"
		NAMES=() PIDS=()
		record zookeeper "$!"
		while alive "$(pid_of zookeeper)" && (($(now_ms) - t0 < 30000)); do
			out=$(srvr "$PORT") || true
			if serving "$out"; then
				ZK_VERSION=$(sed -n 's/^Zookeeper version: \([^-,]*\).*/\1/p' <<<"$out")
				return 0
			fi
			sleep 0.1
		done
		stop_named 5 zookeeper >/dev/null
		grep -q 'Address already in use' "$dir/zookeeper.log" 2>/dev/null || break
	done
	die "ZooKeeper did not start"
}

cmd_up() {
	if read_state; then
		if any_running; then
			printf 'A local cluster is already up (ZooKeeper on 127.0.0.1:%s); not starting another.\n' "$PORT"
			printf '  make cluster-status   to see it\n  make cluster-down     to stop it\n'
			exit 1
		fi
		echo "(the cluster recorded in .tmp/cluster/ is no longer running; starting a fresh one)"
	fi
	local b
	for b in master worker client; do
		[[ -x $BIN/$b ]] || die "$BIN/$b is missing: run 'make build' (or 'make cluster-up', which builds first)"
	done
	if [[ ! -e $ZK_JAR ]] || ! "$JAVA_BIN" -version >/dev/null 2>&1; then
		die "ZooKeeper ($ZK_JAR) or Java ('$JAVA_BIN') is missing: run scripts/ensure-zookeeper.sh (or set PADDOCK_ZK_JAR / JAVA)"
	fi

	rm -rf "$STATE"
	mkdir -p "$STATE"
	trap up_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	echo "Starting a local Paddock cluster (state and logs in .tmp/cluster/)..."
	start_zookeeper
	local zk=(--zk "127.0.0.1:$PORT" --session-timeout "$SESSION_TIMEOUT") name
	"$BIN/client" init --zk "127.0.0.1:$PORT" >/dev/null 2>"$STATE/init.err" || die "client init failed: $(cat "$STATE/init.err")"
	rm -f "$STATE/init.err"
	for name in "${MEMBERS[@]}"; do
		case $name in
		# Each master serves metrics, probes and the status page on a free
		# port, which its log names (page_url).
		master-*) set -- "$BIN/master" "${zk[@]}" --id "$name" --http-addr 127.0.0.1:0 ;;
		worker-*) set -- "$BIN/worker" "${zk[@]}" --id "$name" --concurrency 4 ;;
		esac
		${SETSID[@]+"${SETSID[@]}"} "$@" </dev/null >"$STATE/$name.log" 2>&1 &
		record "$name" "$!"
	done

	local t0 j='' ready=0
	t0=$(now_ms)
	while (($(now_ms) - t0 < 20000)); do
		for name in "${MEMBERS[@]}"; do
			alive "$(pid_of "$name")" || die "$name exited at start-up (see .tmp/cluster/$name.log)"
		done
		if j=$(status_json) && [[ -n $(leader_field "$j" id) && -n $(backup_ids "$j") &&
			$j == *'"name":"worker-1"'* && $j == *'"name":"worker-2"'* ]]; then
			ready=1
			break
		fi
		sleep 0.1
	done
	((ready)) || die "timed out waiting for a leader, a backup and both workers"
	UP_DONE=1
	trap - EXIT INT TERM

	local leader leader_pid backup
	leader=$(leader_field "$j" id)
	leader_pid=$(leader_field "$j" pid)
	backup=$(backup_ids "$j")
	backup=${backup%% *}
	printf '  ZooKeeper %s on 127.0.0.1:%s (pid %s)\n' "${ZK_VERSION:-?}" "$PORT" "$(pid_of zookeeper)"
	printf '  master-1 (pid %s), master-2 (pid %s), worker-1 (pid %s), worker-2 (pid %s)\n' \
		"$(pid_of master-1)" "$(pid_of master-2)" "$(pid_of worker-1)" "$(pid_of worker-2)"
	printf '  all with --session-timeout %s\n' "$SESSION_TIMEOUT"
	printf '  status page: %s (master-1), %s (master-2)\n\n' "$(page_url master-1)" "$(page_url master-2)"
	"$BIN/client" status --zk "127.0.0.1:$PORT" | sed 's/^/  /'
	local note=''
	[[ $PORT == 2181 ]] && note="   ${D}# 2181 is also the default${N}"
	cat <<EOF

${G}${B}The cluster is up.${N} Point your shell at it:

    ${B}export PADDOCK_ZK=127.0.0.1:$PORT${N}$note

Then try:
EOF
	local line
	for line in \
		"bin/client submit --kind echo --data hello --wait|" \
		"bin/client submit --kind sleep --data 30|prints an id; then: bin/client result ID --wait" \
		"bin/client run --tasks 1000 --concurrency 8|" \
		"bin/client status|or: make cluster-status" \
		"kill -9 $leader_pid|the leader, $leader: $backup takes over once its session expires (~4 s)" \
		"kill $leader_pid|(or SIGTERM: it resigns, and $backup takes over at once)" \
		"scripts/cluster.sh logs [-f]|the processes' logs" \
		"make cluster-down|stop everything"; do
		if [[ -n ${line#*|} ]]; then
			printf '    %-48s%s# %s%s\n' "${line%%|*}" "$D" "${line#*|}" "$N"
		else
			printf '    %s\n' "${line%%|*}"
		fi
	done
}

# ---------------------------------------------------------------- status, down, logs

# page_url NAME: the status page a master serves, from the address its log
# names ("serving http" ... "addr":"127.0.0.1:PORT").
page_url() {
	local addr
	addr=$(sed -n 's/.*serving http.*"addr": *"\([^"]*\)".*/\1/p; s/.*serving http[[:space:]]*{"addr": "\([^"]*\)".*/\1/p' "$STATE/$1.log" 2>/dev/null | tail -n 1)
	[[ -n $addr ]] && echo "http://$addr/" || echo "(not serving yet: see .tmp/cluster/$1.log)"
}

cmd_status() {
	if ! read_state; then
		echo "No local cluster is running (start one with: make cluster-up)."
		exit 1
	fi
	local i state
	printf '%sLocal cluster%s (.tmp/cluster/), ZooKeeper on 127.0.0.1:%s\n' "$B" "$N" "$PORT"
	for i in "${!NAMES[@]}"; do
		if ours "${NAMES[i]}" "${PIDS[i]}"; then state="${G}running${N}"; else state="${R}gone${N}"; fi
		printf '  %-10s pid %-7s %s\n' "${NAMES[i]}" "${PIDS[i]}" "$state"
	done
	if ! ours zookeeper "$(pid_of zookeeper)"; then
		echo "ZooKeeper is not running; 'make cluster-down' then 'make cluster-up' starts afresh."
		exit 1
	fi
	echo
	local j leader_pid
	j=$(status_json) || die "could not read the status from ZooKeeper on 127.0.0.1:$PORT"
	"$BIN/client" status --zk "127.0.0.1:$PORT" --connect-timeout 3s | sed 's/^/  /'
	leader_pid=$(leader_field "$j" pid)
	for i in "${!NAMES[@]}"; do
		if [[ ${PIDS[i]} == "$leader_pid" ]] && ! ours "${NAMES[i]}" "${PIDS[i]}"; then
			printf '\n  %snote:%s the leader %s (pid %s) is gone, but its ZooKeeper session lives on until it\n' "$B" "$N" "${NAMES[i]}" "$leader_pid"
			printf '  times out (%s); then the backup takes over.\n' "$SESSION_TIMEOUT"
		fi
	done
	return 0
}

cmd_down() {
	if ! read_state; then
		echo "No local cluster is running."
		return 0
	fi
	echo "Stopping the local cluster (ZooKeeper on 127.0.0.1:$PORT):"
	trap '' INT # stop everything even on Ctrl-C
	stop_all
	echo "Stopped. Logs stay in .tmp/cluster/ until the next cluster-up."
}

cmd_logs() {
	local follow=()
	case ${1:-} in
	'') ;;
	-f | --follow) follow=(-F) ;;
	*) die "usage: $0 logs [-f]" ;;
	esac
	local files=() f
	for f in "$STATE"/master-*.log "$STATE"/worker-*.log "$STATE"/zk/zookeeper.log; do
		[[ -f $f ]] && files+=("$f")
	done
	((${#files[@]} > 0)) || die "no logs in .tmp/cluster/ (start a cluster with: make cluster-up)"
	exec tail -n 20 ${follow[@]+"${follow[@]}"} "${files[@]}"
}

case ${1:-} in
up) cmd_up ;;
status) cmd_status ;;
down) cmd_down ;;
logs) shift; cmd_logs "$@" ;;
*)
	sed -n '2,12s/^# \{0,1\}//p' "$0" >&2
	exit 2
	;;
esac
