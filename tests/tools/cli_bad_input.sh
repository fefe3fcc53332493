#!/usr/bin/env bash
# cli_bad_input.sh B3CAS FAULT_SHIM - the store commands under bad input
# and a hostile file system: malformed ids, missing objects, folders that
# are not stores, a locked store, files that vanish, shrink or grow while
# being stored (or, for `hash`, cut short under its mapping), a full disk,
# permission denied, a damaged object.
#
# Each case must give its documented exit code and a message that says
# what happened; after each, every object stored before must still read
# back byte-exact (checked against b3sum, an independent implementation).
# FAULT_SHIM is tests/tools/fault_shim.c built as an LD_PRELOAD module.
set -uo pipefail
b3cas=${1:?usage: cli_bad_input.sh PATH_TO_B3CAS PATH_TO_FAULT_SHIM}
shim=$(realpath "${2:?usage: cli_bad_input.sh PATH_TO_B3CAS PATH_TO_FAULT_SHIM}")
. "$(dirname "$0")/cli_lib.sh"
for tool in b3sum setpriv; do
	command -v $tool >/dev/null || {
		echo "FAIL: $tool is missing (scripts/deps.sh installs it)"
		exit 1
	}
done
# The shim comes before a sanitizer runtime in the preload order; that is
# fine for it (it only forwards calls) but ASan checks the order.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0

work=$(mktemp -d)
trap 'exec 9>&- 2>/dev/null; rm -rf "$work" "$_cli_err"' EXIT
chmod 755 "$work"
st=$work/store
files=$work/files
mkdir -p "$files"
export B3CAS_STORE=$st
zeros=$(printf '0%.0s' {1..64})

# ---- a store with objects in both tiers; all of it must survive ----
"$b3cas" init >/dev/null 2>&1
for n in 0 17 4096 65536 70000 300000; do
	head -c $n /dev/urandom >"$files/keep$n"
done
"$b3cas" put "$files"/keep* >/dev/null 2>&1
kept=$(b3sum "$files"/keep*)

# all_intact: every object stored at the start reads back byte-exact.
all_intact() {
	local h name bad=0
	while read -r h name; do
		"$b3cas" get "$h" 2>/dev/null | cmp -s - "$name" || bad=1
	done <<<"$kept"
	return $bad
}

# ---- malformed ids: 2, and nothing is done ----
for cmd in get exists rm stat; do
	expect 2 '^$' "invalid id 'abc': .*3 hex digits; an id has 64" -- $cmd abc
	expect 2 '^$' "invalid id '': " -- $cmd ''
	expect 2 '^$' "is longer than 64 hex digits" -- $cmd "${zeros}0"
	expect 2 '^$' "non-hex character 'g' at position 64" -- $cmd "${zeros:1}g"
	expect 2 '^$' "non-hex character ' '" -- $cmd " ${zeros:1}"
	expect 2 '^$' "Try 'b3cas $cmd --help'" -- $cmd
done
# one bad id among good ones: rm does nothing at all
first=$(head -n1 <<<"$kept" | cut -c1-64)
expect 2 '^$' "invalid id 'nope'" -- rm "$first" nope
expect 0 'refs: 1' '^$' -- stat "$first"

# ---- missing objects: 1 ----
expect 1 '^$' "object $zeros is not stored" -- get "$zeros"
expect 1 '^$' '^$' -- exists "$zeros"
expect 1 '^$' "object $zeros is not stored" -- rm "$zeros"
expect 1 '^$' "object $zeros is not stored" -- stat "$zeros"

# ---- folders that are not stores: 3 ----
mkdir "$work/plain" && echo mine >"$work/plain/file"
expect 3 '^$' "$work/plain is not a b3cas store: it has no b3cas.conf" -- --store "$work/plain" ls
expect 3 '^$' "$work/plain is not a b3cas store" -- --store "$work/plain" put "$files/keep17"
check "a put into a non-store creates nothing" test "$(ls "$work/plain")" = file
expect 3 '^$' "no b3cas store at $work/missing .*b3cas init" -- --store "$work/missing" get "$zeros"
check "a get on a missing store creates nothing" test ! -e "$work/missing"
expect 3 '^$' "$files/keep17" -- --store "$files/keep17" ls
# a store of another format version or hash is refused, not misread
cp -a "$st" "$work/v2"
sed -i 's/^format_version = 1$/format_version = 4/' "$work/v2/b3cas.conf"
expect 3 '^$' 'uses store format 4, which this b3cas .* does not read' -- --store "$work/v2" ls
# format 3 (a RADOS store) without its tier lines
sed -i 's/^format_version = 4$/format_version = 3/' "$work/v2/b3cas.conf"
expect 3 '^$' 'lacks the tier, its pool, namespace or configuration' -- --store "$work/v2" ls
# format 2 without its chunking and compression lines
sed -i 's/^format_version = 3$/format_version = 2/' "$work/v2/b3cas.conf"
expect 3 '^$' 'lacks a chunking or compression setting' -- --store "$work/v2" ls
cp -a "$st" "$work/other"
sed -i 's/^hash = blake3$/hash = sha256/' "$work/other/b3cas.conf"
expect 3 '^$' 'sha256|hash' -- --store "$work/other" exists "$first"
# a second format_version (the lines after each would be read by different
# rules) is refused
sed -i 's/^format_version = 2$/format_version = 3/' "$work/v2/b3cas.conf"
printf 'tier = rados\nformat_version = 1\n' >>"$work/v2/b3cas.conf"
expect 3 '^$' "format_version given twice '1'" -- --store "$work/v2" ls
echo 'format_version = one' >"$work/v2/b3cas.conf"
expect 3 '^$' 'b3cas.conf' -- --store "$work/v2" ls

# ---- a locked store: writers get 3 naming the holder, readers go on ----
mkfifo "$work/fifo"
exec 9<>"$work/fifo"
"$b3cas" put <"$work/fifo" >"$work/holder.out" 2>&1 9>&- &
holder=$!
for _ in $(seq 1 200); do
	[[ $(cat "$st/LOCK" 2>/dev/null) == "$holder" ]] && break
	sleep 0.05
done
expect 3 '^$' "open for writing by process $holder" -- put "$files/keep17"
expect 3 '^$' "open for writing by process $holder" -- rm "$first"
expect 1 '^$' "already a b3cas store" -- init
expect 0 "$first" '^$' -- ls
expect 0 '^$' '^$' -- exists "$first"
expect 0 'refs: 1' '^$' -- stat "$first"
check "objects read back while a writer holds the store" all_intact
echo "written by the lock holder" >&9
exec 9>&-
wait $holder
check "the lock holder's put went through" \
	grep -qx "$(echo "written by the lock holder" | b3sum --no-names)" "$work/holder.out"
expect 0 '' '^$' -- put "$files/keep17"   # the lock is free again
"$b3cas" rm "$(b3sum --no-names "$files/keep17")" >/dev/null

# ---- files that vanish or change while being stored ----
head -c 200000 /dev/urandom >"$files/big"
cp "$files/big" "$files/big.orig"
big=$(b3sum --no-names "$files/big")
half=$(head -c 100000 "$files/big" | b3sum --no-names)
# gone before it is opened: 2, the other files are still stored
echo "other" >"$files/other"
other=$(b3sum --no-names "$files/other")
expect 2 "$other" "cannot read $files/gone: No such file or directory" -- put "$files/gone" "$files/other"
expect 0 '^$' '^$' -- exists "$other"
# shrinks while read: 2, nothing stored for it
SHIM_CHANGE_PATH=$files/big SHIM_CHANGE=truncate LD_PRELOAD=$shim \
	expect 2 '^$' "$files/big changed while it was being stored \\(200000 bytes when opened, [0-9]+ read\\); nothing stored for it" -- put "$files/big"
expect 1 '^$' '^$' -- exists "$big"
expect 1 '^$' '^$' -- exists "$half"
# grows while read: 2, nothing stored for it
cp "$files/big.orig" "$files/big"
SHIM_CHANGE_PATH=$files/big SHIM_CHANGE=append LD_PRELOAD=$shim \
	expect 2 '^$' "$files/big changed while it was being stored" -- put "$files/big"
expect 1 '^$' '^$' -- exists "$big"
# unlinked while read: the open file keeps its bytes, so storing it is right
cp "$files/big.orig" "$files/big"
SHIM_CHANGE_PATH=$files/big SHIM_CHANGE=unlink LD_PRELOAD=$shim \
	expect 0 "^$big  $files/big\$" '^$' -- put "$files/big"
check "the unlink really happened" test ! -e "$files/big"
"$b3cas" get "$big" >"$work/out" 2>/dev/null
check "a file unlinked while stored reads back whole" cmp -s "$work/out" "$files/big.orig"
"$b3cas" rm "$big" >/dev/null
check "nothing stored before was touched" all_intact
check "no temporary files are left behind" test -z "$(ls -A "$st/tmp")"

# ---- hash: a mapped file cut short under the mapping ----
# Reading past the new end raises SIGBUS (b3sum dies of it); b3cas hash
# reports the file as changed, exit 1, and goes on with the next file.
# One thread (the mapping populated up front) and the pool with its
# prefault thread (a file of 40 MiB).
head -c 1000000 /dev/urandom >"$files/mapped"
head -c 41943040 /dev/urandom >"$files/mapped40"
echo "after" >"$files/after"
after=$(b3sum "$files/after")
for f in mapped mapped40; do
	for threads in 1 2; do
		cp "$files/$f" "$files/$f.shrinks"
		SHIM_CHANGE_PATH=$files/$f.shrinks SHIM_CHANGE=truncate LD_PRELOAD=$shim \
			expect 1 "^${after//./\\.}\$" "$files/$f.shrinks: the file shrank while it was read" \
			-- hash --num-threads "$threads" "$files/$f.shrinks" "$files/after"
	done
	sum=$(b3sum "$files/$f")
	cp "$files/$f" "$files/$f.shrinks"
	printf '%s\n' "${sum/$files\/$f/$files/$f.shrinks}" >"$work/sums"
	SHIM_CHANGE_PATH=$files/$f.shrinks SHIM_CHANGE=truncate LD_PRELOAD=$shim \
		expect 1 "^$files/$f.shrinks: FAILED \\(the file shrank while it was read\\)\$" '^$' \
		-- hash --check "$work/sums"
	cp "$files/$f" "$files/$f.shrinks"
	expect 0 "^$files/$f.shrinks: OK\$" '^$' -- hash --check "$work/sums"
done

# ---- a full disk: 3, "No space", earlier objects intact ----
# a loose object that does not fit
SHIM_ENOSPC_DIR=$st SHIM_ENOSPC_AFTER=100000 LD_PRELOAD=$shim \
	expect 3 '^$' 'No space left on device' -- put "$files/big.orig"
expect 1 '^$' '^$' -- exists "$big"
check "a put that hit a full disk leaves no temporary file" test -z "$(ls -A "$st/tmp")"
# small objects: the index (its write-ahead log) cannot grow
for i in 1 2 3; do echo "small $i $RANDOM" >"$files/small$i"; done
SHIM_ENOSPC_DIR=$st SHIM_ENOSPC_AFTER=0 LD_PRELOAD=$shim \
	expect 3 '^$' 'No space left on device' -- put "$files"/small*
# the disk is full from the first write on: every later put fails too
SHIM_ENOSPC_DIR=$st SHIM_ENOSPC_AFTER=0 LD_PRELOAD=$shim \
	expect 3 '^$' 'No space left on device' -- put "$files/keep17"
# reads of a full disk's store still work
SHIM_ENOSPC_DIR=$st SHIM_ENOSPC_AFTER=0 LD_PRELOAD=$shim \
	expect 0 "$first" '^$' -- ls
check "objects stored before the disk filled read back" all_intact
# with space again, the store takes writes
expect 0 "^$big  " '^$' -- put "$files/big.orig"
expect 0 '' '^$' -- put "$files"/small*
"$b3cas" get "$big" 2>/dev/null | cmp -s - "$files/big.orig"
check "a put after the disk was freed reads back" test $? = 0

# ---- permission denied ----
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
# a store the user may not write: 3 for writers; readers work
expect 0 '' '^$' -- ls   # (as root: sanity)
out=$(nobody "$b3cas" put "$files/keep17" 2>&1); rc=$?
check "put into a store not ours exits 3 ($rc: $out)" test $rc = 3
check "and says permission denied ($out)" grep -q 'Permission denied' <<<"$out"
out=$(nobody "$b3cas" rm "$first" 2>&1); rc=$?
check "rm in a store not ours exits 3 ($rc: $out)" test $rc = 3
out=$(nobody "$b3cas" get "$first" 2>&1 | b3sum --no-names)
check "get from a store not ours still works" test "$out" = "$first"
# a file the user may not read: 2, the others are stored
mkdir "$work/mine" && chown 65534:65534 "$work/mine"
nobody "$b3cas" --store "$work/mine/st" init >/dev/null 2>&1
echo secret >"$files/secret" && chmod 600 "$files/secret"
out=$(nobody "$b3cas" --store "$work/mine/st" put "$files/secret" "$files/other" 2>&1); rc=$?
check "an unreadable file exits 2 ($rc: $out)" test $rc = 2
check "and says permission denied ($out)" grep -q "cannot read $files/secret: Permission denied" <<<"$out"
check "the readable file beside it is stored" grep -q "^$other  $files/other" <<<"$out"
# get -o into a folder the user may not write: 2
out=$(nobody "$b3cas" get "$first" -o "$work/denied.out" 2>&1); rc=$?
check "get -o into a folder not ours exits 2 ($rc: $out)" test $rc = 2
check "and says permission denied ($out)" grep -q 'Permission denied' <<<"$out"

# ---- a damaged loose object: never returned, 3 ----
loose=$(b3sum --no-names "$files/keep300000")
obj=$st/objects/${loose:0:2}/$loose
cp "$obj" "$work/obj.good"
chmod u+w "$obj"
printf 'XXXXXXXX' | dd of="$obj" bs=1 seek=150000 conv=notrunc status=none
expect 3 '^$' "corrupt|does not match" -- get "$loose"
check "a corrupt object writes no bytes" test -z "$out"
rm -f "$work/never"
expect 3 '^$' "corrupt|does not match" -- get "$loose" -o "$work/never"
check "nor creates the -o file" test ! -e "$work/never"
truncate -s 1000 "$obj"
expect 3 '^$' "has 1000 bytes; the index says 300000" -- get "$loose"
# a lost file: 1, the same answer as an object deleted by a writer running
# beside this reader (reads take no lock, so they cannot tell the two apart)
rm -f "$obj"
expect 1 '^$' "$loose has no file: it was deleted .* or it was lost" -- get "$loose"
cp "$work/obj.good" "$obj"
check "with the object put back, everything reads back" all_intact

cli_summary
