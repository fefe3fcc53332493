#!/usr/bin/env bash
# cli_full_disk.sh B3CAS - the store on a full disk, on small file systems
# the test makes itself (needs root: a loop-mounted 64 MiB ext4 image and
# size-limited tmpfs mounts; fails, never skips, without them).
#
# On each file system: init works (or, on one too small, fails with exit
# 3 "disk full" and a rerun once there is room completes the store); puts
# fill the disk until one fails with exit 3 and "disk full"; the rest of
# the disk is filled by another file; then every object stored before
# still reads back byte-exact (against b3sum), a duplicate of a stored
# file larger than the free space is stored (one more reference), rm and
# gc --grace 0 succeed and free space, puts work again and fsck is clean.
# No command may die of a signal (exit >= 128): RocksDB's assertions
# aborted init, rm, gc and put here before (docs/store.md, "A full disk").
# Also: a procfs file is stored under the id b3sum gives it.
set -uo pipefail
b3cas=${1:?usage: cli_full_disk.sh PATH_TO_B3CAS}
b3cas=$(realpath "$b3cas")
. "$(dirname "$0")/cli_lib.sh"
for tool in b3sum mkfs.ext4 mount umount truncate; do
	command -v $tool >/dev/null || {
		echo "FAIL: $tool is missing (scripts/deps.sh installs it)"
		exit 1
	}
done
cli_mount_work
files=$work/files
mkdir -p "$files"

# run CMD...: b3cas CMD; sets $rc, $out, $err. A signal exit is a failure.
run() {
	out=$("$b3cas" "$@" 2>"$_cli_err") && rc=0 || rc=$?
	err=$(cat "$_cli_err")
	checks=$((checks + 1))
	if ((rc >= 128)); then
		fails=$((fails + 1))
		echo "FAIL: b3cas $* died of signal $((rc - 128))"
		echo "  stderr: $err"
	fi
}

# Free bytes of the file system holding $1 (what root may use).
free_bytes() { stat -f -c '%f %S' "$1" | awk '{print $1 * $2}'; }

mount_tmpfs() { # DIR SIZE
	mkdir -p "$1" && mount -t tmpfs -o "size=$2" tmpfs "$1" &&
		mounts+=("$1")
}

mount_ext4() { # DIR SIZE
	truncate -s "$2" "$work/ext4.img" &&
		mkfs.ext4 -q -F "$work/ext4.img" && mkdir -p "$1" &&
		mount -o loop "$work/ext4.img" "$1" && mounts+=("$1")
}

# ---- init on a file system too small for a store, then with room ----
tiny=$work/tiny
if ! mount_tmpfs "$tiny" 64k; then
	echo "FAIL: cannot mount a tmpfs"
	exit 1
fi
run --store "$tiny/s" init
if ((rc != 0)); then
	check "init on 64 KiB: exit 3 and 'disk full' (got $rc: $err)" \
		test "$rc" = 3 -a -n "$(grep -i 'disk full' <<<"$err")"
fi
mount -o remount,size=16m "$tiny"
run --store "$tiny/s" init
check "init again once there is room completes the store (exit $rc: $err)" \
	test "$rc" = 0 -o "$rc" = 1
head -c 100000 /dev/urandom >"$files/tiny"
run --store "$tiny/s" put --no-names "$files/tiny"
check "the store made by the rerun works (put: exit $rc $err)" \
	test "$rc" = 0 -a "$out" = "$(b3sum --no-names "$files/tiny")"

# all_intact EVERY KIND: the store (B3CAS_STORE) lists exactly the ids in
# want (the caller's), fsck finds every object sound, the ids are b3sum's
# of their files, and every EVERYth object reads back byte-exact.
all_intact() {
	local every=$1 n=0 id bad=0
	[[ $("$b3cas" ls | sort) == $(printf '%s\n' "${!want[@]}" | sort) ]] ||
		{ echo "  $2: ls lists other ids than were put"; bad=1; }
	"$b3cas" fsck >/dev/null 2>&1 || { echo "  $2: fsck failed"; bad=1; }
	for id in "${!want[@]}"; do
		[[ $id == $(b3sum --no-names "${want[$id]}") ]] || bad=1
		((n++ % every == 0)) || continue
		[[ $("$b3cas" get "$id" 2>/dev/null | b3sum --no-names) == "$id" ]] ||
			{ echo "  $2: $id does not read back"; bad=1; }
	done
	((bad == 0))
}

# ---- a full disk ----
# full_disk KIND DIR: the whole scenario on a fresh file system at DIR.
full_disk() {
	local kind=$1 mnt=$2 st=$2/s i n ids=() before after big bigid
	local -A want

	run --store "$st" init
	check "$kind: init on a small file system (exit $rc: $err)" \
		test "$rc" = 0
	export B3CAS_STORE=$st
	# A large file stored early: its duplicate is put on the full disk.
	big=$files/big
	[[ -e $big ]] || head -c $((12 << 20)) /dev/urandom >"$big"
	run put --no-names "$big"
	bigid=$out
	check "$kind: put of a 12 MiB file (exit $rc: $err)" \
		test "$rc" = 0 -a "$bigid" = "$(b3sum --no-names "$big")"
	[[ -n $bigid ]] && want[$bigid]=$big

	# Fill with new 1 MiB files (and a few small, inline ones), eight per
	# command, until a put fails.
	for ((i = 0; i < 120; i += 8)); do
		local batch=()
		for ((n = i; n < i + 8; n++)); do
			local f=$files/$kind.$n
			head -c $(((n % 4 == 3) ? 3000 : 1 << 20)) /dev/urandom >"$f"
			batch+=("$f")
		done
		run put "${batch[@]}"
		while read -r id name; do
			[[ -n $id ]] && want[$id]=$name && ids+=("$id")
		done <<<"$out"
		((rc != 0)) && break
	done
	check "$kind: a put on the full disk fails with exit 3 (got $rc)" \
		test "$rc" = 3
	check "$kind: ... saying 'disk full' ($err)" \
		grep -qi 'disk full' <<<"$err"
	check "$kind: ... after storing some (${#ids[@]})" test "${#ids[@]}" -gt 10

	# Someone else takes what is left.
	dd if=/dev/zero of="$mnt/filler" bs=64k 2>/dev/null
	dd if=/dev/zero of="$mnt/filler2" bs=1k 2>/dev/null
	head -c 2000 /dev/urandom >"$files/$kind.small"
	run put "$files/$kind.small"
	check "$kind: a small put on a disk with no free block: exit 3 (got $rc)" \
		test "$rc" = 3
	check "$kind: ... saying 'disk full' ($err)" \
		grep -qi 'disk full' <<<"$err"

	# Writable sessions that write nothing each leave a log; from 4 the
	# close puts a key through the log and flushes it, so that RocksDB
	# drops them (index/index.c, sweep_logs). On a full disk that may
	# fail: the sessions still succeed, and nothing is lost (below).
	for ((k = 1; k <= 6; k++)); do
		run gc --dry-run
		check "$kind: session $k writing nothing on the full disk (exit $rc: $err)" \
			test "$rc" = 0
	done

	# Nothing stored before is lost: every id put is listed, fsck hashes
	# every object against its id, and every eighth is read back (a read
	# costs a process; b3sum checks the source files' ids).
	check "$kind: all ${#want[@]} stored objects are intact" \
		all_intact 8 "$kind"

	# Content already stored needs no room.
	before=$(free_bytes "$mnt")
	check "$kind: less free space ($before) than the duplicate's size" \
		test "$before" -lt $((12 << 20))
	run put --json "$big"
	check "$kind: duplicate put of the 12 MiB file on the full disk (exit $rc: $err)" \
		test "$rc" = 0
	check "$kind: ... prints its id as a duplicate ($out)" \
		grep -q "\"id\":\"$bigid\".*\"duplicate\":true" <<<"$out"
	run stat "$bigid"
	check "$kind: ... and it has 2 references now ($out)" \
		grep -q '^refs: 2$' <<<"$out"

	# rm and gc free space.
	before=$(free_bytes "$mnt")
	run rm "${ids[@]:0:10}"
	check "$kind: rm of 10 objects on the full disk (exit $rc: $err)" \
		test "$rc" = 0
	run gc --grace 0
	check "$kind: gc --grace 0 on the full disk (exit $rc: $err)" \
		test "$rc" = 0
	after=$(free_bytes "$mnt")
	check "$kind: rm + gc freed space ($before -> $after bytes free)" \
		test "$after" -gt $((before + (5 << 20)))
	for id in "${ids[@]:0:10}"; do unset "want[$id]"; done
	run exists "${ids[0]}"
	check "$kind: a removed object is gone (exists: $rc)" test "$rc" = 1

	# Puts work again, and everything still reads.
	head -c $((1 << 20)) /dev/urandom >"$files/$kind.again"
	run put --no-names "$files/$kind.again"
	check "$kind: a put after gc works (exit $rc: $err)" \
		test "$rc" = 0 -a "$out" = "$(b3sum --no-names "$files/$kind.again")"
	[[ -n $out ]] && want[$out]=$files/$kind.again
	check "$kind: all ${#want[@]} kept objects are intact" \
		all_intact 8 "$kind"
	run fsck
	check "$kind: fsck is clean (exit $rc: $out $err)" test "$rc" = 0
	unset B3CAS_STORE
}

if mount_ext4 "$work/ext4" 64M; then
	full_disk ext4 "$work/ext4"
else
	check "a 64 MiB ext4 image can be loop-mounted" false
fi
if mount_tmpfs "$work/tmpfs" 48m; then
	full_disk tmpfs "$work/tmpfs"
else
	check "a 48 MiB tmpfs can be mounted" false
fi

# ---- procfs: its files' sizes (0) are not what reading them gives ----
run --store "$tiny/s" put --no-names /proc/version
check "put /proc/version: the id b3sum gives (exit $rc: $out $err)" \
	test "$rc" = 0 -a "$out" = "$(b3sum --no-names /proc/version)"

cli_summary "cli_full_disk"
