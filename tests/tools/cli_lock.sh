#!/usr/bin/env bash
# cli_lock.sh B3CAS - the writer lock through the b3cas program: a writer
# kept busy by a put reading from a fifo holds the store; deleting LOCK
# must not let a second writer in, nor make `recover` take the busy index
# for damage (exit 3 naming the holder, nothing changed); `--wait[=DURATION]`
# waits for the holder (put, recover, backup into it) and times out naming
# it; a bad DURATION is a usage error; a LOCK that is a link is never
# written through.
#
# Expectations are independent of b3cas: ids come from b3sum, pids from
# bash ($!). No time is asserted; waits for the holder poll its LOCK.
set -uo pipefail
b3cas=${1:?usage: cli_lock.sh PATH_TO_B3CAS}
. "$(dirname "$0")/cli_lib.sh"
command -v b3sum >/dev/null || {
	echo "FAIL: b3sum is missing (scripts/deps.sh installs it)"
	exit 1
}

work=$(mktemp -d)
trap 'exec 9>&- 2>/dev/null; rm -rf "$work" "$_cli_err"' EXIT
st=$work/store
files=$work/files
mkdir -p "$files"
export B3CAS_STORE=$st
"$b3cas" init >/dev/null 2>&1
for n in 17 300000; do
	head -c $n /dev/urandom >"$files/keep$n"
done
"$b3cas" put "$files"/keep* >/dev/null 2>&1
head -c 200000 /dev/urandom >"$files/part1"
head -c 200000 /dev/urandom >"$files/part2"
head -c 1000 /dev/urandom >"$files/other"
other=$(b3sum --no-names "$files/other")
head -c 2000 /dev/urandom >"$files/backed"
backed=$(b3sum --no-names "$files/backed")
"$b3cas" --store "$work/src" init >/dev/null 2>&1
"$b3cas" --store "$work/src" put "$files/backed" >/dev/null 2>&1

all_intact() {
	local id name
	while read -r id name; do
		"$b3cas" get "$id" 2>/dev/null | cmp -s - "$name" || return 1
	done < <(b3sum "$files"/keep*)
}

# start_holder: a `put` from a fifo that has read part1 and waits for
# more, so it holds the store open for writing with a put in flight.
start_holder() {
	rm -f "$work/fifo"
	mkfifo "$work/fifo"
	exec 9<>"$work/fifo"
	"$b3cas" put <"$work/fifo" >"$work/holder.out" 2>&1 9>&- &
	holder=$!
	cat "$files/part1" >&9
	for _ in $(seq 1 400); do
		[[ $(cat "$st/LOCK" 2>/dev/null) == "$holder" ]] && return 0
		sleep 0.05
	done
	echo "FAIL: the holder $holder never took the lock"
	fails=$((fails + 1))
}

# finish_holder: feed the rest and check that its put went through.
finish_holder() {
	cat "$files/part2" >&9
	exec 9>&-
	wait "$holder"
	check "the holder's put exited 0" test $? = 0
	check "the holder's put printed the id of what it was given" \
		grep -qx "$(cat "$files/part1" "$files/part2" | b3sum --no-names)" \
		"$work/holder.out"
}

# ---- LOCK deleted under a live writer: a second writer is refused ----
start_holder
rm -f "$st/LOCK"
expect 3 '^$' "open for writing by process $holder \\(" -- put "$files/other"
expect 3 '^$' "open for writing by process $holder \\(" -- rm "$other"
# replaced by another file: the same
echo 12345 >"$work/fake"
mv "$work/fake" "$st/LOCK"
expect 3 '^$' "open for writing by process $holder \\(" -- gc

# ---- recover: an index in use is not damage ----
expect 3 '^$' "cannot recover .*open for writing by process $holder \\(" -- recover
check "recover changed nothing" test ! -e "$st/integrity/recover"
expect 3 '^$' "open for writing by process $holder \\(" -- recover --json

# ---- --wait: times out naming the holder, or waits it out ----
expect 3 '^$' "open for writing by process $holder \\(.*waited 0.300 s" \
	-- --wait=300ms put "$files/other"
expect 3 '^$' "open for writing by process $holder \\(" -- put --wait=1ms "$files/other"
"$b3cas" --wait put "$files/other" >"$work/waiter.out" 2>"$work/waiter.err" 9>&- &
waiter=$!
"$b3cas" --wait=10m recover >"$work/recover.out" 2>"$work/recover.err" 9>&- &
recoverer=$!
# backup into the busy store: its DEST is waited for too
expect 3 '' "backup to .* failed: .*open for writing by process $holder \\(" \
	-- --store "$work/src" --wait=100ms backup "$st"
"$b3cas" --store "$work/src" --wait backup "$st" >"$work/backup.out" \
	2>"$work/backup.err" 9>&- &
backer=$!
finish_holder
wait "$waiter"
check "put --wait succeeded once the holder left" test $? = 0
check "put --wait printed the id" grep -q "^$other " "$work/waiter.out"
wait "$recoverer"
check "recover --wait succeeded once the holder left" test $? = 0
check "recover --wait found nothing to do" \
	grep -qi "nothing" "$work/recover.out"
wait "$backer"
check "backup --wait succeeded once the holder left" test $? = 0
expect 0 '^$' '^$' -- exists "$backed"
check "objects stored before are intact" all_intact
expect 0 '^$' '^$' -- exists "$other"

# ---- bad durations are usage errors ----
for bad in abc 5x -1s 1.5s '' 100000000s; do
	expect 2 '^$' "--wait" -- "--wait=$bad" put "$files/other"
done

# ---- a LOCK that is a link: its target is never written ----
echo precious >"$work/outside"
rm -f "$st/LOCK"
ln -s "$work/outside" "$st/LOCK"
expect 3 '^$' "LOCK is a symbolic link" -- put "$files/other"
check "the link's target is unchanged" grep -qx precious "$work/outside"
check "the link is left in place" test -L "$st/LOCK"
expect 0 '^$' '^$' -- exists "$other"   # readers go on
rm "$st/LOCK"
expect 0 "^$other " '^$' -- put "$files/other"

cli_summary "cli_lock"
