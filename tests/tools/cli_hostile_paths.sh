#!/usr/bin/env bash
# cli_hostile_paths.sh B3CAS - the program writes only what is its own
# (issue 13, items 1 and 2).
# - get -o writes as cp and '>' do: a device node (a private one made with
#   mknod, 1:3 = null, never the machine's /dev/null) and a fifo are
#   written in place and stay what they were; links are followed (one, a
#   chain, a relative one, a dangling one, which creates its target) and
#   stay links; a replaced file keeps its mode; a folder that may not be
#   written (as nobody, through setpriv) is an error that leaves FILE as it
#   was and no temp file.
# - the store: tmp/ replaced by a link to another folder stops writes
#   (exit 3) and empties nothing; a foreign file and a folder in tmp/ are
#   left alone and do not stop puts; init and backup refuse (exit 3,
#   "holds other files") a folder holding a foreign file anywhere in the
#   layout and change nothing; a rerun of an interrupted init completes
#   it; an objects folder belongs to one store (init and open refuse a
#   second), and the owner mark is no object to fsck, ls or backup.
# Needs root (mknod, setpriv), as CI runs; fails, never skips, otherwise.
set -uo pipefail
b3cas=${1:?usage: cli_hostile_paths.sh PATH_TO_B3CAS}
. "$(dirname "$0")/cli_lib.sh"
for tool in mknod mkfifo setpriv stat timeout cmp b3sum; do
	command -v $tool >/dev/null || {
		echo "FAIL: $tool is missing (scripts/deps.sh installs it)"
		exit 1
	}
done
if (($(id -u) != 0)); then
	echo "FAIL: this test needs root (mknod, setpriv); CI runs as root"
	exit 1
fi

work=$(mktemp -d)
chmod 755 "$work" # nobody must reach the store below
trap 'rm -rf "$work" "$_cli_err"' EXIT
st=$work/store
export B3CAS_STORE=$st
head -c 150000 /dev/urandom >"$work/obj"
expect 0 'Created' '^$' -- init
expect 0 '' '^$' -- put "$work/obj"
id=${out%% *}
kind() { stat -c '%F %t:%T' "$1"; }

# ---- get -o: a device node is written in place ----
mkdir "$work/dev"
mknod "$work/dev/null" c 1 3
expect 0 '^$' '^$' -- get "$id" -o "$work/dev/null"
check "a device node stays the device ($(kind "$work/dev/null"))" \
	test "$(kind "$work/dev/null")" = "character special file 1:3"

# ---- a fifo with a reader gets the bytes and stays a fifo ----
mkfifo "$work/fifo"
timeout 20 cat "$work/fifo" >"$work/from_fifo" &
reader=$!
expect 0 '^$' '^$' -- get "$id" -o "$work/fifo"
wait $reader
check "the fifo's reader got the object" cmp -s "$work/from_fifo" "$work/obj"
check "the fifo stays a fifo" test -p "$work/fifo"

# ---- links are followed; the link stays, its target is replaced ----
mkdir -p "$work/links/sub"
echo old >"$work/links/target"
chmod 640 "$work/links/target"
ln -s target "$work/links/one"
expect 0 '^$' '^$' -- get "$id" -o "$work/links/one"
check "a link stays a link" test -L "$work/links/one"
check "its target holds the object" cmp -s "$work/links/target" "$work/obj"
check "the target keeps its mode 640 ($(stat -c %a "$work/links/target"))" \
	test "$(stat -c %a "$work/links/target")" = 640
echo old >"$work/links/target"
ln -s ../one "$work/links/sub/two"    # relative, resolved from sub/
ln -s "$work/links/sub/two" "$work/links/three"
expect 0 '^$' '^$' -- get "$id" -o "$work/links/three"
check "a chain of links reaches the target" \
	cmp -s "$work/links/target" "$work/obj"
check "every link of the chain stays" \
	test -L "$work/links/three" -a -L "$work/links/sub/two" -a -L "$work/links/one"
ln -s sub/new "$work/links/dangling"
expect 0 '^$' '^$' -- get "$id" -o "$work/links/dangling"
check "a dangling link gets its target made" \
	cmp -s "$work/links/sub/new" "$work/obj"
check "and stays a link" test -L "$work/links/dangling"
check "no temp file is left in the links' folders" \
	test "$(ls -a "$work/links" "$work/links/sub" | grep -c b3cas-)" = 0

# ---- a replaced regular file keeps its mode, as with cp ----
echo old >"$work/private"
chmod 600 "$work/private"
expect 0 '^$' '^$' -- get "$id" -o "$work/private"
check "the file holds the object" cmp -s "$work/private" "$work/obj"
check "and keeps its mode 600 ($(stat -c %a "$work/private"))" \
	test "$(stat -c %a "$work/private")" = 600

# ---- a folder that may not be written: FILE as it was, no temp ----
# nobody may write the file but not its folder; the link to it lies in a
# folder nobody may write.
mkdir "$work/ro" "$work/rw"
chmod 777 "$work/rw"
echo keep >"$work/ro/file"
chown 65534:65534 "$work/ro/file"
ln -s ../ro/file "$work/rw/link"
for f in "$work/ro/file" "$work/rw/link"; do
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$b3cas" get "$id" -o "$f" 2>&1)
	rc=$?
	check "get -o $f in a read-only folder exits 2 ($rc: $out)" test $rc = 2
	check "and says why ($out)" grep -q "Permission denied" <<<"$out"
	check "FILE is as it was" grep -qx keep "$work/ro/file"
	check "the link is as it was" test -L "$work/rw/link"
	check "and no temp file is left" \
		test "$(ls -A "$work/ro" "$work/rw" | grep -c b3cas-)" = 0
done

# ---- a file we may not write is not replaced, even in a folder we may ----
echo root >"$work/rw/roots"
chmod 644 "$work/rw/roots"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$b3cas" get "$id" -o "$work/rw/roots" 2>&1)
rc=$?
check "get -o over a file nobody may write exits 2 ($rc: $out)" test $rc = 2
check "and leaves it as it was" grep -qx root "$work/rw/roots"
check "still root's" test "$(stat -c %u "$work/rw/roots")" = 0

# ---- tmp/ replaced by a link: writes stop, nothing outside is deleted ----
mkdir "$work/outside"
echo precious >"$work/outside/precious"
echo staged >"$work/outside/1.1.tmp"
mv "$st/tmp" "$work/tmp.saved"
ln -s "$work/outside" "$st/tmp"
expect 3 '' 'tmp is a symbolic link' -- put "$work/obj"
check "the folder tmp/ pointed at keeps its files" \
	test -f "$work/outside/precious" -a -f "$work/outside/1.1.tmp"
rm "$st/tmp"
mv "$work/tmp.saved" "$st/tmp"

# ---- tmp/ clearing touches only staging files ----
echo mine >"$st/tmp/notes.txt"
mkdir "$st/tmp/keep"
echo leftover >"$st/tmp/4242.7.tmp"
head -c 100000 /dev/urandom >"$work/obj2"
expect 0 '' '^$' -- put "$work/obj2"
check "a foreign file in tmp/ stays" test -f "$st/tmp/notes.txt"
check "a folder in tmp/ stays and did not stop the put" test -d "$st/tmp/keep"
check "a staging leftover is cleared" test ! -e "$st/tmp/4242.7.tmp"
rm -r "$st/tmp/notes.txt" "$st/tmp/keep"

# ---- init and backup refuse a folder with a foreign file, change nothing --
# snap DIR: every name, type, size and content hash under DIR
snap() { (cd "$1" && find . -printf '%p %y %s %l\n' | sort &&
	find . -type f -exec b3sum --no-names {} + | sort); }
foreign() { # foreign NAME CONTENT: a folder holding only that file
	local d=$work/foreign
	rm -rf "$d" && mkdir -p "$(dirname "$d/$1")" && printf '%s' "$2" >"$d/$1"
}
for case in "tmp/notes.txt" "LOCK" "objects/ab/foreign" "index/notes" \
	"cache/l2/photo" "integrity/quarantine/x" "objects/strayfile"; do
	for cmd in init backup; do
		foreign "$case" "someone else's"
		before=$(snap "$work/foreign")
		if [[ $cmd == init ]]; then
			expect 3 '' 'holds other files' -- --store "$work/foreign" init
		else
			expect 3 '' 'holds other files' -- backup "$work/foreign"
		fi
		check "$cmd left a folder holding $case unchanged" \
			test "$before" = "$(snap "$work/foreign")"
	done
done

# ---- an interrupted init is completed by a rerun, keeping its id ----
expect 0 'Created' '^$' -- --store "$work/again" init
rm "$work/again/b3cas.conf"   # as if killed just before publishing it
echo 777 >"$work/again/LOCK"
echo partial >"$work/again/b3cas.conf.tmp"
expect 0 'Created' '^$' -- --store "$work/again" init
mark=$(sed -n 's/^store_id = //p' "$work/again/objects/b3cas.owner")
check "the rerun keeps the id of the owner mark ($mark)" \
	grep -qx "store_id = $mark" "$work/again/b3cas.conf"

# ---- an objects folder belongs to one store ----
expect 0 'Created' '^$' -- --store "$work/a" init --objects-dir "$work/tier"
a_id=$(sed -n 's/^store_id = //p' "$work/a/b3cas.conf")
check "init records a store id ($a_id)" grep -Eq '^[0-9a-f]{32}$' <<<"$a_id"
check "and marks the objects folder with it" \
	grep -qx "store_id = $a_id" "$work/tier/b3cas.owner"
expect 0 '' '^$' -- --store "$work/a" put "$work/obj"
before=$(snap "$work/tier")
expect 3 '' "belongs to another store.*$a_id" -- \
	--store "$work/b" init --objects-dir "$work/tier"
check "a refused init makes no store folder" test ! -e "$work/b"
check "and leaves the objects folder unchanged" \
	test "$before" = "$(snap "$work/tier")"
# a second store pointed at the folder by hand is refused at open
expect 0 'Created' '^$' -- --store "$work/b" init
b_id=$(sed -n 's/^store_id = //p' "$work/b/b3cas.conf")
echo "objects = $work/tier" >>"$work/b/b3cas.conf"
expect 3 '' "belongs to another store.*$a_id.*$b_id" -- --store "$work/b" ls
expect 3 '' "belongs to another store" -- --store "$work/b" gc
check "the first store's object survives" \
	test "$("$b3cas" --store "$work/a" get "$id" | b3sum --no-names)" = "$id"
# the mark is neither an object nor a stray
expect 0 "$id" '^$' -- --store "$work/a" ls
check "ls lists the one object only ($out)" test "$(wc -l <<<"$out")" = 1
expect 0 '0 problems' '' -- --store "$work/a" fsck
expect 0 '' '' -- --store "$work/a" backup "$work/a_copy"
check "a backup gets an id of its own" \
	test "$(sed -n 's/^store_id = //p' "$work/a_copy/b3cas.conf")" != "$a_id"

cli_summary
