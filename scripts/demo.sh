#!/usr/bin/env bash
# demo.sh — what `make demo` runs after building: Paddock end to end on
# loopback, unattended, in well under a minute.
#
# In a fresh temporary directory it starts a private ZooKeeper on a free port,
# two masters and two workers (session timeout 4 s), runs a few tasks and two
# batches of 200, kills the leader with SIGKILL in the middle of the second
# batch and measures how long the backup takes to step in. It exits 0 only
# when every task succeeded, and stops everything it started on every exit
# path (including Ctrl-C).
#
# Environment:
#   KEEP=1          keep the temporary directory (logs, zoo.cfg, data)
#   TMPDIR          where the temporary directory goes (default /tmp)
#   PADDOCK_ZK_JAR  ZooKeeper server jar, or a directory of jars
#                   (default /usr/share/java/zookeeper.jar)
#   JAVA            java binary (default: java on PATH)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BIN="$ROOT/bin"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
SESSION_TIMEOUT=4s
TASKS_OK=0 # tasks that succeeded so far

# ---------------------------------------------------------------- output

if [[ -t 1 && -z ${NO_COLOR:-} ]]; then
	B=$'\e[1m' D=$'\e[2m' G=$'\e[32m' R=$'\e[31m' N=$'\e[0m'
else
	B='' D='' G='' R='' N=''
fi
header() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
say() { printf '    %s\n' "$*"; }
indent() { sed 's/^/    /'; }
warn() { printf '    %swarning:%s %s\n' "$R" "$N" "$*"; }
fail() {
	printf '\n%sdemo failed:%s %s\n' "$R" "$N" "$*" >&2
	exit 1
}

# shown prints a command as a user would type it from the repository root.
shown() {
	local a out=()
	for a; do
		a=${a#"$ROOT/"}
		if [[ $a =~ ^[A-Za-z0-9._/:=,@+-]+$ ]]; then out+=("$a"); else out+=("'$a'"); fi
	done
	printf '%s' "${out[*]}"
}

# show runs a command, echoing it first and indenting its output (stdout and
# stderr, in order); returns its exit status.
show() {
	printf '    %s$ %s%s\n' "$D" "$(shown "$@")" "$N"
	local out rc=0
	out=$(guard "$@" 2>&1) || rc=$?
	[[ -z $out ]] || printf '%s\n' "$out" | indent
	((rc != 124)) || say "${R}(gave up after 60 s)${N}"
	return "$rc"
}

secs() { printf '%d.%d s' $(($1 / 1000)) $(($1 % 1000 / 100)); } # ms → "4.4 s"

# ---------------------------------------------------------------- processes

SETSID=()
command -v setsid >/dev/null 2>&1 && SETSID=(setsid)
# guard runs a client command with a time limit, so that the demo cannot hang
# (a client waits for ZooKeeper for as long as it takes). --foreground keeps
# it in our process group: Ctrl-C still reaches it.
GUARD=()
timeout --foreground --kill-after=5 60 true >/dev/null 2>&1 && GUARD=(timeout --foreground --kill-after=5 60)
guard() { ${GUARD[@]+"${GUARD[@]}"} "$@"; }

NAMES=() # masters and workers, in start order
PIDS=()
ZK_PID=''
RUN_PID='' # a client run in the background

# alive: the process exists and is not a zombie waiting to be reaped.
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

# start NAME LOG CMD... runs CMD in the background in its own session (so a
# Ctrl-C reaches only this script, which then stops everything in order).
start() {
	local name=$1 log=$2
	shift 2
	${SETSID[@]+"${SETSID[@]}"} "$@" </dev/null >"$log" 2>&1 &
	NAMES+=("$name")
	PIDS+=("$!")
}

# forget PID: stop tracking a process the demo is about to kill on purpose.
# Disowning it also keeps bash from reporting "Killed" on the terminal.
forget() {
	local i
	for i in "${!PIDS[@]}"; do
		if [[ ${PIDS[i]} == "$1" ]]; then
			unset 'PIDS[i]' 'NAMES[i]'
		fi
	done
	PIDS=(${PIDS[@]+"${PIDS[@]}"})
	NAMES=(${NAMES[@]+"${NAMES[@]}"})
	disown "$1" 2>/dev/null || true
}

pid_of() { # NAME → pid of its newest process
	local i
	for ((i = ${#NAMES[@]} - 1; i >= 0; i--)); do
		[[ ${NAMES[i]} == "$1" ]] && { echo "${PIDS[i]}"; return 0; }
	done
	return 1
}

# stop SECONDS PID...: SIGTERM, wait up to SECONDS, then SIGKILL; reap.
# Sets FORCED to the pids that had to be killed, and STATUS[pid] to each
# one's exit status.
FORCED=''
declare -A STATUS=()
stop() {
	local limit=$1 p deadline any rc
	shift
	FORCED=''
	(($# > 0)) || return 0
	for p; do
		if alive "$p"; then kill -TERM "$p" 2>/dev/null || true; fi
	done
	deadline=$(($(now_ms) + limit * 1000))
	while :; do
		any=0
		for p; do alive "$p" && any=1; done
		((any)) || break
		if (($(now_ms) >= deadline)); then
			for p; do alive "$p" && kill -KILL "$p" 2>/dev/null && FORCED+=" $p"; done
			break
		fi
		sleep 0.1
	done
	for p; do
		rc=0
		wait "$p" 2>/dev/null || rc=$?
		STATUS[$p]=$rc
	done
}

# stop_everything may run twice (a Ctrl-C during the final stop): each
# time it stops whatever still runs.
stop_everything() {
	local pids=() i
	if [[ -n $RUN_PID ]]; then
		kill -TERM "$RUN_PID" 2>/dev/null || true
		wait "$RUN_PID" 2>/dev/null || true
	fi
	for i in "${!PIDS[@]}"; do alive "${PIDS[i]}" && pids+=("${PIDS[i]}"); done
	# Workers drain running tasks for up to 10 s; masters resign at once.
	stop 15 ${pids[@]+"${pids[@]}"}
	for i in "${!PIDS[@]}"; do
		if [[ "$FORCED " == *" ${PIDS[i]} "* ]]; then
			warn "${NAMES[i]} ignored SIGTERM for 15 s; killed it"
		elif [[ " ${pids[*]-} " == *" ${PIDS[i]} "* && ${STATUS[${PIDS[i]}]:-0} != 0 ]]; then
			warn "${NAMES[i]} exited with status ${STATUS[${PIDS[i]}]} on SIGTERM (see ${NAMES[i]}.log)"
		fi
	done
	if [[ -n $ZK_PID ]]; then
		stop 10 "$ZK_PID"
		[[ -z $FORCED ]] || warn "ZooKeeper ignored SIGTERM for 10 s; killed it"
	fi
	return 0
}

cleanup() {
	local rc=$?
	trap '' INT TERM # finish cleaning up even if Ctrl-C is pressed again
	trap - EXIT
	case $rc in
	0) ;;
	130 | 143) printf '\n%sinterrupted:%s stopping everything...\n' "$R" "$N" ;;
	*) printf 'stopping everything...\n' ;;
	esac
	stop_everything
	if ((rc != 0 && rc != 130 && rc != 143)) && [[ -n ${WORK:-} ]]; then
		local f
		for f in "$WORK"/*.log "$WORK"/zk/zookeeper.log; do
			[[ -f $f ]] || continue
			printf '\n%s--- last lines of %s ---%s\n' "$B" "${f#"$WORK"/}" "$N"
			tail -n 15 "$f"
		done
		echo
	fi
	if [[ -n ${WORK:-} && -d $WORK ]]; then
		if [[ ${KEEP:-} == 1 ]]; then
			echo "kept $WORK (logs, zoo.cfg, ZooKeeper data)"
		else
			rm -rf "$WORK"
			((rc == 0)) || echo "removed $WORK (run with KEEP=1 to keep the logs)"
		fi
	fi
	exit "$rc"
}

# ---------------------------------------------------------------- ZooKeeper





# start_zookeeper sets ZK_PORT and ZK_PID and waits until it serves requests.
start_zookeeper() {
	local dir="$WORK/zk" t0 out _
	for _ in 1 2 3 4 5; do
		ZK_PORT=$(free_port) || fail "found no free port on 127.0.0.1"
		t0=$(now_ms)
		zk_launch "$dir" "$ZK_PORT"
		ZK_PID=$!
		while alive "$ZK_PID" && (($(now_ms) - t0 < 30000)); do
			out=$(srvr "$ZK_PORT") || true
			if serving "$out"; then
				ZK_VERSION=$(sed -n 's/^Zookeeper version: \([^-,]*\).*/\1/p' <<<"$out")
				ZK_MODE=$(sed -n 's/^Mode: //p' <<<"$out")
				ZK_READY_MS=$(($(now_ms) - t0))
				return 0
			fi
			sleep 0.1
		done
		stop 5 "$ZK_PID"
		ZK_PID=''
		# Someone took the port between our check and ZooKeeper's bind: retry.
		grep -q 'Address already in use' "$dir/zookeeper.log" 2>/dev/null || break
	done
	fail "ZooKeeper did not start (see zk/zookeeper.log below)"
}

# ---------------------------------------------------------------- status JSON
# 'client status --json' prints one line; its leader (and each backup) is a
# flat object {"id":..,"host":..,"pid":..,"started":..}. No jq needed.

status_json() { guard "$BIN/client" status --json --connect-timeout 3s 2>/dev/null; }
epoch_of() { sed -n 's/.*"epoch":{"epoch":\([0-9]*\).*/\1/p' <<<"$1"; }
has_worker() { [[ $1 == *"\"name\":\"$2\""* ]]; }

# wait_until SECONDS WHAT TEST...: poll TEST (a command) every 0.1 s.
wait_until() {
	local limit=$1 what=$2 t0 i
	shift 2
	t0=$(now_ms)
	until "$@"; do
		alive "$ZK_PID" || fail "ZooKeeper (pid $ZK_PID) exited while waiting for $what"
		for i in "${!PIDS[@]}"; do
			if ! alive "${PIDS[i]}"; then
				fail "${NAMES[i]} (pid ${PIDS[i]}) exited while waiting for $what"
			fi
		done
		(($(now_ms) - t0 < limit * 1000)) || fail "timed out after ${limit}s waiting for $what"
		sleep 0.1
	done
}

# ---------------------------------------------------------------- checks

for b in master worker client; do
	[[ -x $BIN/$b ]] || fail "$BIN/$b is missing: run 'make build' (or 'make demo', which builds first)"
done
if [[ ! -e $ZK_JAR ]] || ! "$JAVA_BIN" -version >/dev/null 2>&1; then
	fail "ZooKeeper ($ZK_JAR) or Java ('$JAVA_BIN') is missing: run scripts/ensure-zookeeper.sh (or set PADDOCK_ZK_JAR / JAVA)"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/paddock-demo.XXXXXX")
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
DEMO_T0=$(now_ms)

printf '%sPaddock demo%s: a private ZooKeeper, 2 masters and 2 workers on 127.0.0.1\n' "$B" "$N"
printf '%s(processes log to %s; Ctrl-C stops everything)%s\n' "$D" "$WORK" "$N"

# ---------------------------------------------------------------- 1. ZooKeeper

header "ZooKeeper"
start_zookeeper
export PADDOCK_ZK="127.0.0.1:$ZK_PORT"
ZK=(--zk "$PADDOCK_ZK" --session-timeout "$SESSION_TIMEOUT")
say "ZooKeeper ${ZK_VERSION:-?} ($ZK_MODE) serving on $PADDOCK_ZK after $(secs "$ZK_READY_MS"), pid $ZK_PID"
say "PADDOCK_ZK=$PADDOCK_ZK is exported for every command below"
show "$BIN/client" init || fail "client init failed"

# ---------------------------------------------------------------- 2. masters and workers

header "2 masters and 2 workers (--session-timeout $SESSION_TIMEOUT)"
start master-1 "$WORK/master-1.log" "$BIN/master" "${ZK[@]}" --id master-1
start master-2 "$WORK/master-2.log" "$BIN/master" "${ZK[@]}" --id master-2
start worker-1 "$WORK/worker-1.log" "$BIN/worker" "${ZK[@]}" --id worker-1 --concurrency 4
start worker-2 "$WORK/worker-2.log" "$BIN/worker" "${ZK[@]}" --id worker-2 --concurrency 4
say "started master-1 (pid $(pid_of master-1)), master-2 (pid $(pid_of master-2)), worker-1 (pid $(pid_of worker-1)), worker-2 (pid $(pid_of worker-2))"
cluster_ready() {
	local j
	j=$(status_json) || return 1
	[[ -n $(leader_field "$j" id) && -n $(backup_ids "$j") ]] && has_worker "$j" worker-1 && has_worker "$j" worker-2
}
wait_until 20 "a leader, a backup and both workers" cluster_ready
show "$BIN/client" status || fail "client status failed"
# The live status page, on a free port; open it to watch the failover below.
start status-page "$WORK/status-page.log" "$BIN/client" dashboard --http-addr 127.0.0.1:0
page_url() { sed -n 's/^status page: //p' "$WORK/status-page.log"; }
page_url_known() { [[ -n $(page_url) ]]; }
wait_until 20 "the status page" page_url_known
say "status page: ${B}$(page_url)${N} ${D}(live until the demo ends; it shows the failover below)${N}"

# ---------------------------------------------------------------- 3. tasks

header "A few tasks"
show "$BIN/client" submit --kind echo --data 'hello, paddock' --wait || fail "the echo task did not succeed"
TASKS_OK=$((TASKS_OK + 1))
show "$BIN/client" submit --kind sleep --data 1 --wait || fail "the sleep task did not succeed"
TASKS_OK=$((TASKS_OK + 1))
say "${D}Submit without waiting, then read the result like any other client would:${N}"
# shellcheck disable=SC2016 # printed as typed
printf '    %s$ ID=$(bin/client submit --kind echo --data "any client can read this")%s\n' "$D" "$N"
ID=$(guard "$BIN/client" submit --kind echo --data 'any client can read this') || fail "client submit failed"
say "$ID"
show "$BIN/client" result "$ID" --wait --collect || fail "task $ID did not succeed"
TASKS_OK=$((TASKS_OK + 1))

header "200 tasks through 8 client loops"
show "$BIN/client" run --tasks 200 --concurrency 8 || fail "client run: not every task succeeded"
TASKS_OK=$((TASKS_OK + 200))

# ---------------------------------------------------------------- 4. failover

header "Failover: kill -9 the leader while 200 tasks run"
J=$(status_json) || fail "client status --json failed"
OLD_LEADER=$(leader_field "$J" id)
OLD_PID=$(leader_field "$J" pid)
OLD_EPOCH=$(epoch_of "$J")
BACKUP=$(backup_ids "$J")
BACKUP=${BACKUP%% *}
[[ -n $OLD_LEADER && -n $OLD_PID && -n $BACKUP ]] || fail "could not read the leader from: $J"
[[ $(pid_of "$OLD_LEADER" || true) == "$OLD_PID" ]] || fail "the leader's pid $OLD_PID is not a master this demo started"
say "leader: $OLD_LEADER (pid $OLD_PID), epoch $OLD_EPOCH; backup: $BACKUP"
printf '    %s$ bin/client run --tasks 200 --concurrency 8 &%s\n' "$D" "$N"
# (not through the guard function: then $! would be a subshell, not timeout)
${GUARD[@]+"${GUARD[@]}"} "$BIN/client" run --tasks 200 --concurrency 8 >"$WORK/failover-run.out" 2>&1 &
RUN_PID=$!
sleep 0.2
printf '    %s$ kill -9 %s%s\n' "$D" "$OLD_PID" "$N"
forget "$OLD_PID"
T_KILL=$(now_ms)
kill -KILL "$OLD_PID"
took_over() {
	local j
	j=$(status_json) || return 1
	NEW_LEADER=$(leader_field "$j" id)
	NEW_EPOCH=$(epoch_of "$j")
	# The new leader has taken over once it has also moved the epoch on (for
	# a moment 'status' names it while the epoch is still the old one's).
	[[ -n $NEW_LEADER && $NEW_LEADER != "$OLD_LEADER" && ${NEW_EPOCH:-0} -gt $OLD_EPOCH ]]
}
wait_until 30 "$BACKUP to take over" took_over
TAKEOVER_MS=$(($(now_ms) - T_KILL))
say "${G}$NEW_LEADER took over $(secs "$TAKEOVER_MS") after the kill, epoch $OLD_EPOCH -> $NEW_EPOCH${N}"
say "${D}(a killed leader holds on until its $SESSION_TIMEOUT session expires; one stopped with${N}"
say "${D} SIGTERM or Ctrl-C resigns, and its backup takes over at once)${N}"
RUN_RC=0
wait "$RUN_PID" || RUN_RC=$?
RUN_PID=''
say "the client run that straddled the failover:"
indent <"$WORK/failover-run.out"
((RUN_RC == 0)) || fail "client run during the failover exited $RUN_RC: not every task succeeded"
TASKS_OK=$((TASKS_OK + 200))
show "$BIN/client" status || fail "client status failed"

say "${D}Restart $OLD_LEADER: it stands again, as a backup.${N}"
start "$OLD_LEADER" "$WORK/$OLD_LEADER.restarted.log" "$BIN/master" "${ZK[@]}" --id "$OLD_LEADER"
rejoined() {
	local j
	j=$(status_json) || return 1
	[[ " $(backup_ids "$j")" == *" $OLD_LEADER "* ]]
}
wait_until 20 "$OLD_LEADER to rejoin as a backup" rejoined
show "$BIN/client" status || fail "client status failed"

# ---------------------------------------------------------------- 5. the end

header "Stopping everything"
stop_everything
say "stopped the masters, the workers and ZooKeeper (SIGTERM)"

header "${G}All $TASKS_OK tasks succeeded${N}${B} in $(secs $(($(now_ms) - DEMO_T0)))"
cat <<EOF

${B}Watch a failover yourself${N} with a cluster that keeps running (state in .tmp/cluster/):
    make cluster-up                  ${D}# ZooKeeper + 2 masters + 2 workers, as above${N}
    export PADDOCK_ZK=127.0.0.1:PORT ${D}# the exact line is printed by cluster-up${N}
    make cluster-status              ${D}# who leads, and its pid${N}
    bin/client run --tasks 5000      ${D}# tasks flowing (e.g. in a second terminal)${N}
    kill -9 <leader pid>             ${D}# the backup takes over once the session expires (~4 s)${N}
    kill <leader pid>                ${D}# or SIGTERM: the leader resigns, the backup takes over at once${N}
    make cluster-status              ${D}# the new leader, a higher epoch${N}
    bin/client dashboard             ${D}# the live status page (cluster-up prints the masters' own)${N}
    make cluster-down                ${D}# stop it all${N}
EOF
