#!/usr/bin/env bash
# cli_polish.sh B3CAS FAULT_SHIM - what a user meets at the edges:
#   1. SIGINT, SIGTERM and SIGHUP during a put (from a slow fifo, and from
#      a file whose staging write is stalled) or a get -o: the command dies
#      of the signal (status 128+N), leaves no staging file in tmp/ and no
#      temporary file beside -o FILE, and what was stored stays sound;
#   2. messages name files with their folder (a read-only tmp/ or object
#      folder, provoked as an unprivileged user);
#   3. every store command's exit code for no store, not a store and a
#      locked store is docs/cli.md's (3);
#   4. put, rm and stat --json print a line for every item, failed ones
#      too, with the error's name and message.
# FAULT_SHIM is tests/tools/fault_shim.c built as an LD_PRELOAD module.
set -uo pipefail
b3cas=${1:?usage: cli_polish.sh PATH_TO_B3CAS PATH_TO_FAULT_SHIM}
shim=$(realpath "${2:?usage: cli_polish.sh PATH_TO_B3CAS PATH_TO_FAULT_SHIM}")
. "$(dirname "$0")/cli_lib.sh"
for tool in b3sum setpriv jq mkfifo; do
	command -v $tool >/dev/null || {
		echo "FAIL: $tool is missing (scripts/deps.sh installs it)"
		exit 1
	}
done
# env --default-signal (coreutils 8.31+): a background job of a script
# starts with SIGINT ignored, and b3cas keeps a signal ignored at start.
env --default-signal=INT true 2>/dev/null || {
	echo "FAIL: env --default-signal is missing (coreutils 8.31 or later)"
	exit 1
}
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0

work=$(mktemp -d)
trap 'exec 3>&- 2>/dev/null; rm -rf "$work" "$_cli_err"' EXIT
chmod 755 "$work"
st=$work/store
files=$work/files
mkdir -p "$files"
export B3CAS_STORE=$st
zeros=$(printf '0%.0s' {1..64})

"$b3cas" init >/dev/null 2>&1
for n in 0 17 4096 70000 300000; do
	head -c $n /dev/urandom >"$files/keep$n"
done
"$b3cas" put "$files"/keep* >/dev/null 2>&1
kept=$(b3sum "$files"/keep*)
nkept=$(wc -l <<<"$kept")

# all_intact: every object stored at the start reads back byte-exact.
all_intact() {
	local h name bad=0
	while read -r h name; do
		"$b3cas" get "$h" 2>/dev/null | cmp -s - "$name" || bad=1
	done <<<"$kept"
	return $bad
}

# wait_for WHAT COMMAND...: poll COMMAND until it succeeds (20 s at most).
wait_for() {
	local what=$1 i
	shift
	for ((i = 0; i < 400; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	echo "FAIL: timed out waiting for $what"
	fails=$((fails + 1))
	return 1
}
has_files() { [[ -n $(ls -A "$1") ]]; }
signal_number() { kill -l "$1"; }

# ---- 1. signals ----
# after_signal WHAT PID SIG: the command died of SIG (the shell's status
# 128+N), tmp/ is empty and the store is as sound as before.
after_signal() {
	local what=$1 pid=$2 sig=$3 rc
	kill -"$sig" "$pid"
	wait "$pid"
	rc=$?
	checks=$((checks + 1))
	if [[ $rc != $((128 + $(signal_number "$sig"))) ]]; then
		fails=$((fails + 1))
		echo "FAIL: $what: SIG$sig gave status $rc"
	fi
	check "$what, SIG$sig: no staging file left ($(ls -A "$st/tmp"))" \
		test -z "$(ls -A "$st/tmp")"
	check "$what, SIG$sig: what was stored reads back" all_intact
	expect 0 '' '' -- fsck
	check "$what, SIG$sig: fsck finds nothing ($out)" \
		grep -q ': 0 problems' <<<"$out"
	expect 0 '' '^$' -- ls
	check "$what, SIG$sig: the store holds what it held ($out)" \
		test "$(wc -l <<<"$out")" = "$nkept"
}

fifo=$work/fifo
mkfifo "$fifo"
for sig in INT TERM HUP; do
	# a slow source: 2 MB through a fifo that then stays open
	env --default-signal=INT,TERM,HUP "$b3cas" put "$fifo" \
		>/dev/null 2>"$work/put.err" &
	pid=$!
	exec 3>"$fifo"
	head -c 2000000 /dev/urandom >&3
	wait_for "a staging file of the put from a fifo" has_files "$st/tmp"
	after_signal "put from a fifo" $pid $sig
	exec 3>&-
	check "put from a fifo, SIG$sig: no message ($(cat "$work/put.err"))" \
		test ! -s "$work/put.err"
done
# a regular file, the process stalled in its first staging write
head -c 3000000 /dev/urandom >"$files/big"
for sig in INT TERM; do
	rm -f "$work/mark"
	LD_PRELOAD=$shim SHIM_STALL_DIR=$st/tmp SHIM_STALL_MARK=$work/mark \
		env --default-signal=INT,TERM,HUP "$b3cas" put "$files/big" \
		>/dev/null 2>&1 &
	pid=$!
	wait_for "the put to stall in tmp/" test -e "$work/mark"
	check "a put stalled in tmp/ has its staging file there" \
		has_files "$st/tmp"
	after_signal "put of a file" $pid $sig
done
# get -o: the temporary file beside FILE goes; an old FILE stays
out_dir=$work/out
mkdir "$out_dir"
echo "old bytes" >"$out_dir/file"
big_id=$(b3sum --no-names "$files/keep300000")
for sig in INT TERM HUP; do
	rm -f "$work/mark"
	LD_PRELOAD=$shim SHIM_STALL_DIR=$out_dir SHIM_STALL_MARK=$work/mark \
		env --default-signal=INT,TERM,HUP "$b3cas" get "$big_id" \
		-o "$out_dir/file" >/dev/null 2>&1 &
	pid=$!
	wait_for "get -o to stall" test -e "$work/mark"
	check "a stalled get -o has its temporary file" \
		test "$(ls -A "$out_dir" | wc -l)" = 2
	after_signal "get -o" $pid $sig
	check "get -o, SIG$sig: only FILE is left ($(ls -A "$out_dir"))" \
		test "$(ls -A "$out_dir")" = file
	check "get -o, SIG$sig: FILE is as it was" \
		test "$(cat "$out_dir/file")" = "old bytes"
done
# a signal ignored at start stays ignored: the put completes
(trap '' INT; "$b3cas" put --no-names "$fifo" >"$work/ign.out" 2>&1) &
pid=$!
exec 3>"$fifo"
head -c 2000000 /dev/urandom >"$work/ign.in"
cat "$work/ign.in" >&3
wait_for "a staging file of the put ignoring SIGINT" has_files "$st/tmp"
kill -INT $pid
exec 3>&-
wait $pid
rc=$?
check "a put with SIGINT ignored completes ($rc: $(cat "$work/ign.out"))" \
	test $rc = 0
check "and stores its bytes" \
	test "$(cat "$work/ign.out")" = "$(b3sum --no-names "$work/ign.in")"
"$b3cas" rm "$(cat "$work/ign.out")" >/dev/null 2>&1

# ---- 2. messages name files with their folder ----
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
pst=$work/pstore # a store of an unprivileged user's
mkdir "$pst" && chown 65534:65534 "$pst"
nobody "$b3cas" --store "$pst" init >/dev/null 2>&1
head -c 400000 /dev/urandom >"$files/p400k"
p400k=$(b3sum --no-names "$files/p400k")
# a staging write that fails: the file is named with its folder
# (the shim is preloaded after setpriv, which it would crash)
# env runs as nobody, so the program and the shim it starts must be
# where nobody may read them (a build folder may be private: CI clones
# into a mode-700 folder)
pub=$work/pub
mkdir "$pub" && cp "$b3cas" "$shim" "$pub/" && chmod 755 "$pub" "$pub"/*
out=$(nobody env SHIM_ENOSPC_DIR="$pst" SHIM_ENOSPC_AFTER=1000 \
	LD_PRELOAD="$pub/${shim##*/}" "$pub/${b3cas##*/}" --store "$pst" \
	put "$files/p400k" 2>&1)
check "a failed staging write names tmp/ ($out)" grep -Eq \
	"cannot write $pst/tmp/[0-9]+\.[0-9]+\.tmp: No space left on device" \
	<<<"$out"
# an object folder the user may not write: the rename names both
chmod 555 "$pst/objects/${p400k:0:2}"
out=$(nobody "$b3cas" --store "$pst" put "$files/p400k" 2>&1)
check "a failed publish names both files ($out)" grep -Eq \
	"staging file $pst/tmp/[0-9.]+tmp to $pst/objects/${p400k:0:2}/$p400k: Permission denied" \
	<<<"$out"
chmod 755 "$pst/objects/${p400k:0:2}"
# an object folder fsck may not list
nobody "$b3cas" --store "$pst" put "$files/p400k" >/dev/null 2>&1
chmod 000 "$pst/objects/${p400k:0:2}"
out=$(nobody "$b3cas" --store "$pst" fsck 2>&1)
check "fsck names the folder it cannot list ($out)" grep -q \
	"cannot list folder $pst/objects/${p400k:0:2}: Permission denied" <<<"$out"
chmod 755 "$pst/objects/${p400k:0:2}"
# an object file that shrinks while it is read: named with its folder
head -c 3000000 /dev/urandom >"$files/p3m"
"$b3cas" put "$files/p3m" >/dev/null 2>&1
p3m=$(b3sum --no-names "$files/p3m")
cp "$st/objects/${p3m:0:2}/$p3m" "$work/p3m.good"
out=$(SHIM_CHANGE_PATH=$st/objects/${p3m:0:2}/$p3m SHIM_CHANGE=truncate \
	LD_PRELOAD=$shim "$b3cas" get "$p3m" 2>&1 >/dev/null)
check "a read that meets a short object file names it ($out)" grep -q \
	"$st/objects/${p3m:0:2}/$p3m is truncated" <<<"$out"
chmod u+w "$st/objects/${p3m:0:2}/$p3m"
cp "$work/p3m.good" "$st/objects/${p3m:0:2}/$p3m"
"$b3cas" rm "$p3m" >/dev/null 2>&1
# a path longer than the message buffer: the start and the end are kept
deep=$work
while ((${#deep} < 3000)); do deep=$deep/$(printf 'd%.0s' {1..200}); done
mkdir -p "$deep"
"$b3cas" --store "$deep/st" init >/dev/null 2>&1
out=$(SHIM_ENOSPC_DIR=$deep/st SHIM_ENOSPC_AFTER=1000 LD_PRELOAD=$shim \
	"$b3cas" --store "$deep/st" put --no-names "$files/p400k" 2>&1)
check "a long message keeps its start ($out)" \
	grep -q "^b3cas: cannot store $files/p400k: cannot write $work" <<<"$out"
check "and its end ($out)" \
	grep -Eq "\.\.\..*/st/tmp/[0-9]+\.[0-9]+\.tmp: No space left on device \(disk full\)$" <<<"$out"
check "and fits the message buffer (${#out} bytes)" \
	test ${#out} -le $((1024 + ${#files} + 40))

# ---- 3. exit codes: no store, not a store, locked (docs/cli.md: 3) ----
store_cmds=(ls "stat $zeros" "get $zeros" "exists $zeros" "put $files/keep17"
	"rm $zeros" gc stats fsck "fsck --repair" scrub "scrub --repair"
	"backup $work/bk" "restore $st" recover)
mkdir -p "$work/empty" "$work/foreign"
echo notes >"$work/foreign/notes.txt"
echo text >"$work/a-file"
for c in "${store_cmds[@]}" init; do
	# no folder can be worked out: no --store, B3CAS_STORE, HOME or XDG
	out=$(env -u HOME -u B3CAS_STORE -u XDG_DATA_HOME "$b3cas" $c 2>&1)
	rc=$?
	check "$c with no store folder at all exits 3 ($rc: $out)" test $rc = 3
	check "$c with no store folder says so ($out)" \
		grep -q 'no store folder' <<<"$out"
	[[ $c == init ]] && continue
	for where in "$work/none" "$work/empty" "$work/foreign" "$work/a-file"; do
		expect 3 '' "$where" -- --store "$where" $c
	done
done
expect 3 '' "$work/foreign is not a b3cas store" -- --store "$work/foreign" init
# an empty --store is malformed input, as the usage says
expect 2 '' 'empty folder name' -- --store '' ls
# a writer holds the lock: every writing command exits 3 naming its pid
"$b3cas" put "$fifo" >/dev/null 2>&1 &
holder=$!
exec 3>"$fifo"
wait_for "the writer to hold the lock" grep -qx "$holder" "$st/LOCK"
"$b3cas" --store "$work/bk" init >/dev/null 2>&1
for c in "put $files/keep17" "rm $zeros" gc "fsck --repair" "scrub --repair" \
	"restore $work/bk" recover; do
	expect 3 '' "open for writing by process $holder" -- $c
done
# and a backup into a store that a writer holds
expect 3 '' "open for writing by process $holder" -- --store "$work/bk" \
	backup "$st"
# the readers still work
for c in ls "exists $(b3sum --no-names "$files/keep17")" stats fsck; do
	expect 0 '' '' -- $c
done
exec 3>&-
wait $holder

# ---- 4. --json: a line for every item, failed ones too ----
# items: the name/id and error ("ok" for a success) of each JSON line
items() { jq -r '(.name // .id) + " " + (.error // "ok")' <<<"$out"; }
# json_ok: every line is one JSON object; failures carry a message
json_ok() {
	jq -e -s 'all(.[]; type == "object" and
		((has("error") | not) or (.message | type == "string")))' \
		<<<"$out" >/dev/null
}
echo fresh >"$files/fresh"
echo secret >"$files/secret" && chmod 600 "$files/secret"
head -c 100000 /dev/urandom >"$files/shrinks"
mkdir -p "$files/folder"
SHIM_CHANGE_PATH=$files/shrinks SHIM_CHANGE=truncate LD_PRELOAD=$shim \
	"$b3cas" put --json "$files/fresh" "$work/missing" "$files/folder" \
	"$files/shrinks" "$files/keep17" >"$work/json.out" 2>"$_cli_err"
rc=$?
out=$(cat "$work/json.out")
check "put --json with bad inputs exits 2 ($rc)" test $rc = 2
check "put --json prints JSON ($out)" json_ok
check "put --json has a line per input, in order ($(items))" test "$(items)" = \
"$files/fresh ok
$work/missing ENOTFOUND
$files/folder EINVAL
$files/shrinks ECHANGED
$files/keep17 ok"
check "a failure line says why ($out)" \
	grep -q '"message":"cannot read [^"]*/missing: No such file' <<<"$out"
# a file the user may not read (a store of its own, writable by nobody)
mkdir "$work/mine" && chown 65534:65534 "$work/mine"
nobody "$b3cas" --store "$work/mine/st" init >/dev/null 2>&1
out=$(nobody "$b3cas" --store "$work/mine/st" put --json "$files/secret" \
	"$files/fresh" 2>/dev/null)
rc=$?
check "put --json of an unreadable file exits 2 ($rc)" test $rc = 2
check "and prints EPERM for it, then the other ($(items))" test "$(items)" = \
"$files/secret EPERM
$files/fresh ok"
# a store error ends the run: the rest are named as not done (on one
# thread; on more, files another thread took already finish)
head -c 300000 /dev/urandom >"$files/big1"
# full_put THREADS: put four inputs into a fresh store whose disk fills
# after 100,000 bytes; rc and out are its exit code and its JSON lines
full_put() {
	rm -rf "$work/full"
	"$b3cas" --store "$work/full" init >/dev/null 2>&1
	SHIM_ENOSPC_DIR=$work/full SHIM_ENOSPC_AFTER=100000 LD_PRELOAD=$shim \
		"$b3cas" --store "$work/full" put --json --threads "$1" \
		"$files/fresh" "$files/big1" "$files/keep17" "$work/missing" \
		>"$work/json.out" 2>/dev/null
	rc=$?
	out=$(cat "$work/json.out")
}
full_put 1
check "put --json on a full disk exits 3 ($rc)" test $rc = 3
check "and names every input ($(items))" test "$(items)" = \
"$files/fresh ok
$files/big1 ENOSPC
$files/keep17 ESKIPPED
$work/missing ESKIPPED"
full_put 4
check "put --json --threads 4 on a full disk exits 3 ($rc)" test $rc = 3
# (threads take the largest file first: big1 fills the disk, and the
# others, taken meanwhile or not at all, are stored, refused or skipped)
want="^$files/fresh (ok|ENOSPC|ESKIPPED)
$files/big1 ENOSPC
$files/keep17 (ok|ENOSPC|ESKIPPED)
$work/missing (ENOTFOUND|ESKIPPED)\$"
got=$(items)
check "and names every input once, in order ($got)" eval '[[ $got =~ $want ]]'
# no store: every input is named with the open error
out=$("$b3cas" --store "$work/none" put --json "$files/fresh" 2>/dev/null)
rc=$?
check "put --json into no store exits 3 ($rc)" test $rc = 3
check "and names the input ($(items))" test "$(items)" = "$files/fresh ENOTFOUND"
check "with the store's message ($out)" grep -q "no b3cas store at $work/none" <<<"$out"
# rm and stat
fresh=$(b3sum --no-names "$files/fresh")
"$b3cas" put "$files/fresh" >/dev/null 2>&1 # two references now
expect 1 '' 'is not stored' -- rm --json "$fresh" "$zeros" "$fresh"
check "rm --json prints JSON ($out)" json_ok
check "rm --json has a line per id ($(items))" test "$(items)" = \
"$fresh ok
$zeros ENOTFOUND
$fresh ok"
"$b3cas" put "$files/fresh" >/dev/null 2>&1
expect 2 '' 'invalid id' -- rm --json "$fresh" nothex
check "rm --json with a malformed id names each ($(items))" test "$(items)" = \
"$fresh ESKIPPED
nothex EINVAL"
expect 0 '"refs":1' '' -- stat --json "$fresh"
expect 1 '' 'is not stored' -- stat --json "$zeros" "$fresh"
check "stat --json has a line per id ($(items))" test "$(items)" = \
"$zeros ENOTFOUND
$fresh ok"
expect 2 '' 'invalid id' -- stat --json "$fresh" "${zeros}0"
check "stat --json with a malformed id names each ($(items))" test "$(items)" = \
"$fresh ESKIPPED
${zeros}0 EINVAL"
out=$("$b3cas" --store "$work/none" stat --json "$fresh" 2>/dev/null)
check "stat --json in no store names the id ($(items))" test "$(items)" = \
"$fresh ENOTFOUND"
"$b3cas" rm "$fresh" >/dev/null 2>&1

# ---- many workers failing at once: whole lines ----
# Each failure is one line "b3cas: cannot read NAME: ...", never pieces of
# two (the workers' unbuffered messages came out interleaved).
for i in $(seq 1 400); do
	printf '%s/missing-%03d-with-a-longer-name-to-widen-the-line\0' "$work" "$i"
done >"$work/missing.list"
"$b3cas" --store "$st" put --threads 4 --no-names \
	--files0-from "$work/missing.list" >/dev/null 2>"$work/missing.err"
check "400 failing workers print 400 lines ($(wc -l <"$work/missing.err"))" \
	test "$(wc -l <"$work/missing.err")" = 400
check "each failure line is whole" test "$(grep -cvE \
	'^b3cas: cannot read .*/missing-[0-9]{3}-with-a-longer-name-to-widen-the-line: No such file or directory$' \
	"$work/missing.err")" = 0

cli_summary
