#!/usr/bin/env bash
# ceph-dev.sh - a throw-away one-node Ceph RADOS cluster (Ceph 16.2,
# Debian 12) for development and CI: one monitor and one OSD (memstore or
# bluestore) on 127.0.0.1, cephx off, one pool of size 1. For the RADOS
# object tier's tests (librados); not for anything that must keep data.
#
# Usage:
#   scripts/ceph-dev.sh start DIR [--pool NAME]   # default pool: b3cas
#   scripts/ceph-dev.sh stop DIR
#   scripts/ceph-dev.sh status DIR
#   scripts/ceph-dev.sh kill-osd DIR
#   scripts/ceph-dev.sh start-osd DIR
#
#   start   installs the missing Debian packages (root or sudo), builds a
#           new cluster in DIR, creates the pool and waits until an object
#           can be written and read back. On success it prints one line on
#           stdout, the absolute path of DIR/ceph.conf, and nothing else:
#               conf=$(scripts/ceph-dev.sh start "$dir")
#               rados -c "$conf" -p b3cas ls
#           On a DIR whose cluster runs it only makes sure the pool exists
#           and prints the path again. A DIR holding a stopped cluster of
#           this script is wiped and gets a new, empty cluster. Any other
#           non-empty DIR is refused.
#   stop    stops the OSD, then the monitor (SIGTERM, SIGKILL after 5 s)
#           and waits for them to exit; exits 0 when nothing runs too.
#           DIR is kept (logs); remove it yourself.
#   status  prints "running" (exit 0) when both daemons run and the
#           monitor answers, else "stopped" (exit 1).
#   kill-osd  SIGKILLs the OSD (a crash: no clean shutdown, and nobody
#           tells the monitor, whose map keeps the OSD "up" until it comes
#           back) and waits until the process is gone; exit 0, also when no
#           OSD ran or DIR does not exist. Client ops on the pool then wait
#           (up to their rados_osd_op_timeout, none by default) until
#           start-osd. Either objectstore; memstore's objects are gone.
#   start-osd  starts the existing OSD again (no mkfs) beside a running
#           monitor and waits until the monitor reports it up (booted anew)
#           and an object can be written and read back in the pool of the
#           start that made the cluster (recorded in DIR/pool), within
#           CEPH_DEV_TIMEOUT: exit 0, else the end of the OSD's log and
#           exit 1 (the OSD it began is stopped again). With the OSD
#           already running it only probes. bluestore only: a memstore OSD
#           loses every object with its process, so on a memstore cluster
#           start-osd refuses (exit 1); use stop and start for a new one.
#   Errors exit 1, a wrong command line 2.
#
# Environment:
#   CEPH_DEV_TIMEOUT          the deadline in seconds of start (once the
#                             packages are there) and of start-osd
#                             (default 60)
#   CEPH_DEV_OBJECTSTORE      the OSD's objectstore, read by start when it
#                             builds a cluster:
#                             memstore (default): objects in the OSD's
#                               memory; fast, and all lost when the OSD
#                               process ends (stop, kill-osd, a crash).
#                             bluestore: objects in DIR/osd/block, a sparse
#                               file (it costs the disk space written, not
#                               its size) that survives kill-osd/start-osd
#                               and stop (but start wipes it). DIR must be
#                               on a file system with O_DIRECT (ext4, xfs,
#                               tmpfs from Linux 6.6 on; on tmpfs the
#                               objects cost RAM); start checks and says so.
#                             Set on a start of a DIR whose cluster runs, a
#                             different objectstore is refused.
#   CEPH_DEV_MEMSTORE_BYTES   memstore's size (default 1 GiB); the OSD
#                             holds all objects in memory, so this bounds
#                             its growth. Once it is about full the monitor
#                             marks the OSD full and writes wait (fail with
#                             ETIMEDOUT under rados_osd_op_timeout).
#   CEPH_DEV_BLOCK_BYTES      bluestore's device size (default 8 GiB, at
#                             least 1 GiB); when full, likewise. Its memory
#                             is not bounded by this: the OSD trims its
#                             caches toward osd memory target (1 GiB here).
#
# No manager daemon: pool creation and object I/O do not need one, but
# usage statistics do (`ceph df`, `rados df` show zeros).
#
# Everything lives in DIR: ceph.conf, the monmap, pool (the pool's name),
# mon/ (the monitor's store), osd/ (memstore's few files, or bluestore's
# block file and labels), log/, run/ (admin sockets, pid files), crash/.
# Nothing is written to /etc/ceph, /var/lib/ceph or /var/log/ceph.
# Progress goes to stderr.
set -euo pipefail

PACKAGES=(
	ceph-mon ceph-osd ceph-base ceph-common   # daemons, ceph/rados CLIs, monmaptool
	librados-dev                              # for the clients under test
)

# What a DIR of ours may hold; anything else makes start refuse the DIR.
KNOWN=(ceph.conf ceph-dev.lock monmap pool mon osd log run crash)
# The first line of our ceph.conf: how start and stop know a DIR is ours.
MARK="# ceph-dev.sh cluster (b3cas): throw-away, do not keep data here"

here=$(cd "$(dirname "$0")" && pwd)
prog=ceph-dev.sh
deadline_secs=${CEPH_DEV_TIMEOUT:-60}
memstore_bytes=${CEPH_DEV_MEMSTORE_BYTES:-1073741824}
objectstore=${CEPH_DEV_OBJECTSTORE:-memstore}
block_bytes=${CEPH_DEV_BLOCK_BYTES:-8589934592}
# Each ceph/rados CLI call is bounded: a client that cannot reach the
# monitor otherwise waits forever.
cli_max=20

log() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$prog" "$*" >&2
	exit 1
}
usage() {
	sed -n '/^# Usage:/,/^#   scripts.*start-osd/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# --- arguments --------------------------------------------------------------

(($# >= 2)) || usage
cmd=$1 dir_arg=$2
shift 2
pool=b3cas
case $cmd in
start)
	while (($#)); do
		case $1 in
		--pool)
			(($# >= 2)) || die "--pool needs a NAME"
			pool=$2
			shift 2
			;;
		*) die "unknown argument: $1" ;;
		esac
	done
	[[ $pool =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] ||
		die "pool name '$pool': use letters, digits, '.', '_', '-'"
	;;
stop | status | kill-osd | start-osd)
	(($# == 0)) || die "unexpected argument: $1"
	;;
*) usage ;;
esac
[[ $deadline_secs =~ ^[1-9][0-9]*$ ]] ||
	die "CEPH_DEV_TIMEOUT=$deadline_secs: want a positive number of seconds"
[[ $memstore_bytes =~ ^[1-9][0-9]*$ ]] ||
	die "CEPH_DEV_MEMSTORE_BYTES=$memstore_bytes: want a positive number of bytes"
[[ $objectstore == memstore || $objectstore == bluestore ]] ||
	die "CEPH_DEV_OBJECTSTORE=$objectstore: want memstore or bluestore"
if ! [[ $block_bytes =~ ^[1-9][0-9]{0,15}$ ]] ||
	((block_bytes < 1073741824)); then
	die "CEPH_DEV_BLOCK_BYTES=$block_bytes: want a number of bytes," \
		"at least 1 GiB (1073741824)"
fi

# --- helpers ----------------------------------------------------------------

# Set dir and conf from a DIR that exists.
set_dir() {
	dir=$(cd "$1" && pwd -P) || die "cannot enter $1"
	conf=$dir/ceph.conf
}

is_ours() { [[ -f $conf ]] && [[ $(head -n 1 "$conf") == "$MARK" ]]; }

# pids of our daemons of one kind (ceph-mon or ceph-osd): processes of that
# program whose arguments name this DIR's ceph.conf. Read from /proc rather
# than trusted from pid files, which a kill -9 or a crash leaves stale.
daemon_pids() {
	local want=$1 p a
	local -a args
	for p in /proc/[0-9]*; do
		[[ -r $p/cmdline ]] || continue
		mapfile -d '' -t args 2>/dev/null <"$p/cmdline" || continue
		((${#args[@]} > 2)) || continue
		[[ ${args[0]##*/} == "$want" ]] || continue
		for a in "${args[@]:1}"; do
			if [[ $a == "$conf" ]]; then
				echo "${p#/proc/}"
				break
			fi
		done
	done
}

# Seconds left before start's deadline.
left() { echo $((deadline - SECONDS)); }

# A CLI call bounded by cli_max and by the deadline.
bounded() {
	local t
	t=$(left)
	((t > cli_max)) && t=$cli_max
	((t > 0)) || return 124
	timeout -k 2 "$t" "$@"
}
# A longer step (mkfs) bounded by the deadline only.
until_deadline() {
	local t
	t=$(left)
	((t > 0)) || return 124
	timeout -k 2 "$t" "$@"
}
ceph_cli() { bounded ceph -c "$conf" --connect-timeout 5 "$@"; }
# rados's own op timeouts make a stuck op fail rather than wait for timeout.
rados_cli() {
	bounded rados -c "$conf" --rados-mon-op-timeout 10 \
		--rados-osd-op-timeout 10 -p "$pool" "$@"
}

# A free TCP port on 127.0.0.1 for the monitor, drawn from 20000-29999:
# below Linux's ephemeral range (32768-60999 by default, used by outgoing
# connections) and away from 6800-7300, where the OSD binds its own ports.
# A start beside this one may draw the same port; the monitor then fails
# to bind and start draws again.
free_port() {
	local used p i
	used=$(ss -Hltn 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u)
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + (RANDOM % 10000)))
		[[ $p == "${avoid_port:-}" ]] && continue
		if ! grep -qx "$p" <<<"$used"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# Wait up to 5 s for every daemon of one kind to exit; 1 if some remain
# (their pids in the caller's pids array).
wait_gone() {
	local kind=$1 i
	for ((i = 0; i < 50; i++)); do
		mapfile -t pids < <(daemon_pids "$kind")
		((${#pids[@]})) || return 0
		sleep 0.1
	done
	return 1
}

# Stop one kind of daemon of this DIR: SIGTERM, then SIGKILL after 5 s.
stop_kind() {
	local kind=$1
	local -a pids
	mapfile -t pids < <(daemon_pids "$kind")
	((${#pids[@]})) || return 0
	log "stopping $kind (pid ${pids[*]})"
	kill -TERM "${pids[@]}" 2>/dev/null || true
	wait_gone "$kind" && return 0
	log "$kind did not exit within 5 s of SIGTERM: SIGKILL"
	kill -KILL "${pids[@]}" 2>/dev/null || true
	wait_gone "$kind" && return 0
	die "$kind (pid ${pids[*]}) still there after SIGKILL"
}

# The OSD first: on SIGTERM it tells the monitor it is going down and waits
# for the answer up to 5 s (osd mon shutdown timeout), which a monitor
# already gone never gives.
stop_all() {
	stop_kind ceph-osd
	stop_kind ceph-mon
	rm -f "$dir/run/"*.pid
}

# Start a daemon detached from this script (its own session, so a signal
# to the caller's process group does not reach it; stdio to a file, so
# `conf=$(ceph-dev.sh start DIR)` does not wait for it). -f: no fork, so
# $! is the daemon's pid. 9>&-: the daemon must not inherit start's lock.
spawn() {
	local name=$1
	shift
	setsid "$@" -f -c "$conf" </dev/null >>"$dir/log/$name.out" 2>&1 9>&- &
	echo $! >"$dir/run/$name.pid"
}

# Print which step failed and the end of its log, then exit non-zero; the
# EXIT trap stops what this start or start-osd began.
fail() {
	local step=$1 logf=$2
	shift 2
	printf '%s: %s failed at step "%s"%s\n' "$prog" "$cmd" "$step" \
		"${*:+: $*}" >&2
	if [[ -s $logf ]]; then
		printf '%s: last lines of %s:\n' "$prog" "$logf" >&2
		tail -n 25 "$logf" | sed 's/^/    /' >&2
	fi
	exit 1
}

# On a failed start, stop the cluster it began (cleanup=all); on a failed
# start-osd, the OSD (cleanup=osd).
on_exit() {
	local rc=$?
	if ((rc != 0)) && [[ -n ${cleanup:-} ]]; then
		log "stopping what this $cmd began"
		if [[ $cleanup == all ]]; then
			stop_all || true
		else
			stop_kind ceph-osd || true
		fi
	fi
	exit "$rc"
}

# Take DIR's lock (fd 9) for the rest of this run.
lock_dir() {
	exec 9>>"$dir/ceph-dev.lock"
	flock -w 10 9 || die "another ceph-dev.sh holds $dir/ceph-dev.lock"
}

# The objectstore that DIR's ceph.conf names.
conf_objectstore() {
	sed -n 's/^[[:space:]]*osd objectstore = //p' "$conf"
}

# --- start ------------------------------------------------------------------

install_packages() {
	local p
	local -a missing=()
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed" || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	# Try the package lists as they are first; apt_install (which runs
	# apt-get update before installing) only when that fails.
	if [[ $(id -u) -eq 0 ]]; then
		log "installing ${missing[*]}"
		if env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends "${missing[@]}" >&2; then
			return 0
		fi
		log "apt-get install failed; updating the package lists and retrying"
	fi
	# shellcheck source-path=SCRIPTDIR source=apt_install.sh disable=SC1091
	. "$here/apt_install.sh"
	apt_install "$prog" "${missing[@]}" >&2 ||
		die "could not install ${missing[*]}"
}

# The [osd] lines of one objectstore.
store_conf() {
	case $objectstore in
	memstore)
		cat <<-EOF
			# memstore: objects in memory, nothing on disk but a few files; its
			# size bounds the OSD's memory.
			osd objectstore = memstore
			memstore device bytes = $memstore_bytes
		EOF
		;;
	bluestore)
		cat <<-EOF
			# bluestore on a file that ceph-osd --mkfs creates, osd/block
			# (the default path; bluestore block path would make osd/block a
			# symlink to it), sparse (no preallocation): data, RocksDB and
			# its WAL all on it.
			osd objectstore = bluestore
			bluestore block create = true
			bluestore block size = $block_bytes
			bluestore block preallocate file = false
			# Memory: the OSD trims its caches to keep its RSS near this
			# (4 GiB by default), and RocksDB's memtables are 4 x 32 MiB
			# instead of 4 x 256 MiB.
			osd memory target = 1073741824
			bluestore rocksdb options annex = write_buffer_size=33554432
			# A faster start: no fsck of the store just made, and 2 op shards
			# (2 threads each) instead of 5 or 8: each one opens and closes the
			# device at start (for its rotational flag), 0.3 s apiece.
			bluestore fsck on mkfs = false
			osd op num shards = 2
			osd op num threads per shard = 2
		EOF
		;;
	esac
}

write_conf() {
	# The monitor's addresses, each protocol on its own port and named
	# explicitly (monmaptool --add with a port other than 6789 records a
	# v2 address only): v1 for clients that speak only that, v2 because
	# without it the monitor warns MON_MSGR2_NOT_ENABLED.
	local mons="[v2:127.0.0.1:$mon_port2,v1:127.0.0.1:$mon_port1]"
	cat >"$conf" <<-EOF
		$MARK
		[global]
		fsid = $fsid
		mon host = $mons
		public addr = 127.0.0.1
		cluster addr = 127.0.0.1
		ms bind ipv6 = false
		# cephx off: no keyrings to make or to hand to clients.
		auth cluster required = none
		auth service required = none
		auth client required = none
		# A cephx matter; with cephx off its health warning is noise.
		mon warn on insecure global id reclaim allowed = false
		# Keep every path in DIR (the defaults are under /var).
		run dir = $dir/run
		crash dir = $dir/crash
		# One OSD: pools of one replica, which the monitor refuses unless told.
		osd pool default size = 1
		osd pool default min size = 1
		mon allow pool size one = true
		mon warn on pool no redundancy = false
		osd crush chooseleaf type = 0
		osd pool default pg autoscale mode = off

		[mon]
		mon data = $dir/mon
		log file = $dir/log/\$name.log
		mon cluster log file = $dir/log/cluster.log
		# The monitor shuts down when its disk has less free space than
		# mon data avail crit (5 %) and warns below 30 %: a CI disk is
		# often that full.
		mon data avail warn = 2
		mon data avail crit = 1
		# A taken port fails at once (not after 3 tries 5 s apart), so that
		# start draws another.
		ms bind retry count = 1
		# No manager runs: pools and I/O need none. Without this the monitor
		# reports MGR_DOWN from 120 s after its start on.
		mon mgr mkfs grace = 31536000
		# Each change of the maps (pool creation, an OSD's boot) waits for
		# this before it is committed: 1 s by default, several times per
		# start and start-osd.
		paxos propose interval = 0.1

		[osd]
		osd data = $dir/osd
		osd journal = $dir/osd/journal
		log file = $dir/log/\$name.log
		$(store_conf)
		# The crush weight would be the device size in TiB (0.00009 for
		# 64 MiB), near zero; a plain 1 keeps it clear of zero at any size.
		osd crush initial weight = 1
	EOF
}

# The monitor: a monmap with one monitor, its store, the daemon, and a
# wait until it answers. Sets port_taken=1 when a port was taken (another
# process bound it since free_port looked).
start_mon() {
	local monlog=$dir/log/mon.a.log pid listening=0
	port_taken=0
	rm -rf "$dir/mon" "$dir/monmap"
	mkdir -p "$dir/mon"
	write_conf
	monmaptool --create --fsid "$fsid" \
		--addv a "[v2:127.0.0.1:$mon_port2,v1:127.0.0.1:$mon_port1]" \
		"$dir/monmap" >"$dir/log/mkfs.out" 2>&1 ||
		fail "monmaptool" "$dir/log/mkfs.out"
	bounded ceph-mon -c "$conf" -i a --mkfs --monmap "$dir/monmap" \
		>>"$dir/log/mkfs.out" 2>&1 ||
		fail "ceph-mon --mkfs" "$dir/log/mkfs.out"
	spawn mon.a ceph-mon -i a
	pid=$(<"$dir/run/mon.a.pid")
	while :; do
		if ! kill -0 "$pid" 2>/dev/null; then
			if grep -qs -e 'Address already in use' -e 'unable to bind' \
				"$monlog" "$dir/log/mon.a.out"; then
				port_taken=1
				return 0
			fi
			fail "monitor start" "$monlog" "ceph-mon exited"
		fi
		((SECONDS < deadline)) ||
			fail "monitor start" "$monlog" "no answer within ${deadline_secs}s"
		# Ask the monitor only once it listens: on a port that another
		# process took, the CLI would wait on that one.
		if ((!listening)) && ss -Hltnp "sport = :$mon_port1" |
			grep -q "pid=$pid,"; then
			listening=1
		fi
		if ((listening)) && ceph_cli mon stat >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.2
	done
}

# bluestore opens its device with O_DIRECT, which some file systems refuse
# (tmpfs before Linux 6.6): fail early and clearly there.
check_odirect() {
	local f=$dir/run/odirect.probe err=$dir/log/odirect.out fs
	if ! dd if=/dev/zero of="$f" bs=4096 count=1 oflag=direct status=none \
		2>"$err"; then
		rm -f "$f"
		fs=$(stat -f -c %T "$dir" 2>/dev/null) || fs=unknown
		fail "O_DIRECT check" "$err" "bluestore needs O_DIRECT, which the" \
			"file system of $dir ($fs) refuses; put DIR on ext4 or xfs" \
			"(e.g. under /work) or use CEPH_DEV_OBJECTSTORE=memstore"
	fi
	rm -f "$f"
}

# "EPOCH up|down UP_FROM": the osdmap's epoch and osd.0's state in it.
osd_state() {
	ceph_cli osd dump 2>>"$dir/log/osd-dump.out" | awk '
		$1 == "epoch" { e = $2 }
		$1 == "osd.0" {
			s = $2
			for (i = 3; i < NF; i++) if ($i == "up_from") u = $(i + 1)
		}
		END { if (e == "" || s == "") exit 1; print e, s, u }'
}

# Start the OSD and wait until the monitor reports it up since an epoch
# after $1: booted by this process. After a kill-osd the map shows the dead
# OSD up until the new one boots (the monitor then marks it down and up).
spawn_osd() {
	local after=$1 osdlog=$dir/log/osd.0.log pid st
	spawn osd.0 ceph-osd -i 0
	pid=$(<"$dir/run/osd.0.pid")
	while :; do
		kill -0 "$pid" 2>/dev/null ||
			fail "OSD start" "$osdlog" "ceph-osd exited"
		((SECONDS < deadline)) ||
			fail "OSD start" "$osdlog" "not up within ${deadline_secs}s"
		st=$(osd_state) || st=
		if [[ $st =~ ^[0-9]+\ up\ ([0-9]+)$ ]] &&
			((BASH_REMATCH[1] > after)); then
			return 0
		fi
		sleep 0.5
	done
}

# A new OSD: its id in the monitor, its store (mkfs), the daemon.
start_osd() {
	local uuid id
	uuid=$(</proc/sys/kernel/random/uuid)
	id=$(ceph_cli osd new "$uuid" 2>"$dir/log/mkfs.out") ||
		fail "ceph osd new" "$dir/log/mkfs.out"
	[[ $id == 0 ]] || fail "ceph osd new" /dev/null "got OSD id '$id', not 0"
	rm -rf "$dir/osd"
	mkdir -p "$dir/osd"
	until_deadline ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$uuid" \
		>>"$dir/log/mkfs.out" 2>&1 ||
		fail "ceph-osd --mkfs" "$dir/log/mkfs.out"
	# A new OSD has never been up: any up_from will do.
	spawn_osd 0
}

# Create the pool unless it exists. pg_num 8: a power of two (no health
# warning) and few PGs for one OSD to peer.
ensure_pool() {
	local err=$dir/log/pool.out pools
	pools=$(ceph_cli osd pool ls 2>"$err") ||
		fail "ceph osd pool ls" "$err"
	grep -qx "$pool" <<<"$pools" && return 0
	log "creating pool $pool"
	ceph_cli osd pool create "$pool" 8 8 replicated >/dev/null 2>"$err" ||
		fail "ceph osd pool create $pool" "$err"
	# Tag the pool with its user, or the pool carries a no-application
	# health warning.
	ceph_cli osd pool application enable "$pool" b3cas \
		--yes-i-really-mean-it >/dev/null 2>"$err" ||
		fail "ceph osd pool application enable $pool" "$err"
}

# Write, read back, compare and remove a small object, retried until the
# pool's PGs are active or the deadline passes.
probe() {
	local obj=ceph-dev-probe.$$ src=$dir/run/probe.in dst=$dir/run/probe.out
	local err=$dir/log/probe.out
	head -c 4096 /dev/urandom >"$src"
	while :; do
		rm -f "$dst"
		if rados_cli put "$obj" "$src" 2>"$err" &&
			rados_cli get "$obj" "$dst" 2>>"$err" &&
			cmp -s "$src" "$dst" &&
			rados_cli rm "$obj" 2>>"$err"; then
			rm -f "$src" "$dst"
			return 0
		fi
		((SECONDS + 1 < deadline)) ||
			fail "write probe (rados put/get/cmp/rm on $pool)" "$err" \
				"see also $dir/log/osd.0.log"
		sleep 0.5
	done
}

# 0 when both daemons of this DIR run and the monitor answers.
running() {
	[[ -n $(daemon_pids ceph-mon) && -n $(daemon_pids ceph-osd) ]] &&
		deadline=$((SECONDS + cli_max)) &&
		ceph_cli -s >/dev/null 2>&1
}

# Die unless DIR is empty or holds only what a cluster of ours leaves.
refuse_foreign() {
	local e
	for e in "$dir"/* "$dir"/.[!.]* "$dir"/..?*; do
		[[ -e $e || -L $e ]] || continue
		[[ ${e##*/} == ceph-dev.lock ]] && continue
		[[ " ${KNOWN[*]} " == *" ${e##*/} "* ]] && is_ours && continue
		die "$dir holds $e and is not a ceph-dev.sh cluster;" \
			"give an empty or new directory"
	done
}

do_start() {
	local attempt t0 t
	install_packages
	t0=$SECONDS
	deadline=$((SECONDS + deadline_secs))
	mkdir -p "$dir_arg" || die "cannot make $dir_arg"
	set_dir "$dir_arg"
	refuse_foreign
	lock_dir

	if is_ours; then
		if [[ -n $(daemon_pids ceph-mon)$(daemon_pids ceph-osd) ]]; then
			running || die "the cluster in $dir runs only in part" \
				"(mon pid: $(daemon_pids ceph-mon | xargs) osd pid:" \
				"$(daemon_pids ceph-osd | xargs)) or does not answer;" \
				"run: $0 stop $dir (or, on a bluestore cluster after" \
				"kill-osd: $0 start-osd $dir)"
			t=$(conf_objectstore)
			[[ -z ${CEPH_DEV_OBJECTSTORE:-} || $t == "$objectstore" ]] ||
				die "the cluster in $dir runs with $t, not $objectstore;" \
					"run: $0 stop $dir first for a new one"
			log "the cluster in $dir already runs ($t)"
			deadline=$((SECONDS + deadline_secs))
			ensure_pool
			probe
			echo "$conf"
			return 0
		fi
	fi
	rm -rf "$dir/mon" "$dir/osd" "$dir/log" "$dir/run" "$dir/crash" \
		"$dir/monmap" "$dir/pool" "$conf"
	# The mark first: a start that fails from here on leaves a DIR that
	# the next start knows as its own.
	echo "$MARK" >"$conf"
	mkdir -p "$dir/log" "$dir/run" "$dir/crash"
	# For start-osd's probe.
	echo "$pool" >"$dir/pool"
	if [[ $objectstore == bluestore ]]; then check_odirect; fi

	cleanup=all
	trap on_exit EXIT
	# A signal (Ctrl-C, an outer timeout) exits through the EXIT trap too.
	trap 'exit 130' INT TERM HUP
	fsid=$(</proc/sys/kernel/random/uuid)
	for attempt in 1 2 3; do
		mon_port1=$(free_port) || die "no free port in 20000-29999"
		avoid_port=$mon_port1
		mon_port2=$(free_port) || die "no free port in 20000-29999"
		avoid_port=
		log "monitor on 127.0.0.1:$mon_port1 (v1), :$mon_port2 (v2)"
		start_mon
		((port_taken == 0)) && break
		log "monitor port taken (attempt $attempt); drawing others"
		stop_all
		mv "$dir/log/mon.a.log" "$dir/log/mon.a.log.$attempt" 2>/dev/null || true
	done
	((port_taken == 0)) || fail "monitor start" "$dir/log/mon.a.log.3" \
		"no free port after 3 draws"
	log "monitor up after $((SECONDS - t0))s; starting the OSD ($objectstore)"
	start_osd
	log "OSD up after $((SECONDS - t0))s"
	ensure_pool
	probe
	cleanup=
	log "ready after $((SECONDS - t0))s: pool $pool, conf $conf"
	echo "$conf"
}

# --- stop, status -----------------------------------------------------------

do_stop() {
	if [[ ! -d $dir_arg ]]; then
		log "$dir_arg does not exist: nothing runs"
		return 0
	fi
	set_dir "$dir_arg"
	if ! is_ours; then
		[[ -n $(ls -A -I ceph-dev.lock "$dir") ]] || return 0
		die "$dir does not hold a ceph-dev.sh cluster (no $conf of ours)"
	fi
	lock_dir
	stop_all
	log "stopped"
}

do_status() {
	if [[ -d $dir_arg ]]; then
		set_dir "$dir_arg"
		if is_ours && running; then
			echo running
			return 0
		fi
		if is_ours && [[ -n $(daemon_pids ceph-mon)$(daemon_pids ceph-osd) ]]; then
			log "partly running: mon pid: $(daemon_pids ceph-mon | xargs)," \
				"osd pid: $(daemon_pids ceph-osd | xargs); run: $0 stop $dir" \
				"(or, on a bluestore cluster after kill-osd: $0 start-osd $dir)"
		fi
	fi
	echo stopped
	return 1
}

# --- kill-osd, start-osd ----------------------------------------------------

# Set dir and conf from DIR, which must hold a cluster of ours.
set_our_dir() {
	[[ -d $dir_arg ]] || die "$dir_arg does not exist"
	set_dir "$dir_arg"
	is_ours || die "$dir does not hold a ceph-dev.sh cluster (no $conf of ours)"
}

do_kill_osd() {
	local i
	local -a pids
	if [[ ! -d $dir_arg ]]; then
		log "$dir_arg does not exist: no OSD runs"
		return 0
	fi
	set_our_dir
	lock_dir
	mapfile -t pids < <(daemon_pids ceph-osd)
	if ((${#pids[@]} == 0)); then
		log "no OSD runs in $dir"
		return 0
	fi
	log "killing ceph-osd (pid ${pids[*]}) with SIGKILL"
	kill -KILL "${pids[@]}" 2>/dev/null || true
	# A process in uninterruptible I/O dies once the I/O ends: up to 30 s.
	for ((i = 0; i < 6; i++)); do
		if wait_gone ceph-osd; then
			rm -f "$dir/run/osd.0.pid"
			log "OSD killed"
			return 0
		fi
	done
	die "ceph-osd (pid ${pids[*]}) still there 30 s after SIGKILL"
}

do_start_osd() {
	local t0 store st
	set_our_dir
	store=$(conf_objectstore)
	[[ $store == bluestore ]] ||
		die "the cluster in $dir uses ${store:-no known objectstore}," \
			"whose OSD loses every object when its process ends;" \
			"start-osd restarts bluestore OSDs only" \
			"(CEPH_DEV_OBJECTSTORE=bluestore at start). For a new, empty" \
			"cluster run: $0 stop $dir; $0 start $dir"
	[[ -s $dir/pool ]] || die "$dir/pool is missing: no pool to probe"
	pool=$(<"$dir/pool")
	[[ -s $dir/osd/block ]] || die "$dir/osd holds no bluestore device"
	lock_dir
	t0=$SECONDS
	deadline=$((SECONDS + deadline_secs))
	[[ -n $(daemon_pids ceph-mon) ]] ||
		die "the monitor of $dir does not run; this cluster is stopped" \
			"(start makes a new, empty one)"
	if [[ -n $(daemon_pids ceph-osd) ]]; then
		log "the OSD of $dir already runs; probing pool $pool"
		probe
		return 0
	fi
	cleanup=osd
	trap on_exit EXIT
	trap 'exit 130' INT TERM HUP
	st=$(osd_state) ||
		fail "ceph osd dump (does the monitor answer?)" "$dir/log/osd-dump.out"
	log "starting the OSD (osdmap epoch ${st%% *})"
	spawn_osd "${st%% *}"
	log "OSD up after $((SECONDS - t0))s; probing pool $pool"
	probe
	cleanup=
	log "ready after $((SECONDS - t0))s"
}

case $cmd in
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
kill-osd) do_kill_osd ;;
start-osd) do_start_osd ;;
esac
