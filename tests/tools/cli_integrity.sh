#!/usr/bin/env bash
# cli_integrity.sh B3CAS - what fsck, backup, restore and recover do when
# what they are given cannot be trusted (issue 13, items 6, 8 and 10):
#  - a mirror that is missing, an empty folder, a SHA-256 store or inside
#    the store is an error before anything changes (the damaged object
#    keeps its file and its entry);
#  - backup and restore refuse the store itself, a folder inside it and a
#    folder holding it, and change nothing;
#  - fsck's findings carry full paths; strays in the tier's top folder and
#    stale staging files are findings, and --repair moves or removes them;
#  - 8 bytes overwritten in the index's content tables: fsck reports index
#    damage (exit 1), recover keeps what still reads, the backup and the
#    object files bring back the rest, and every object that had a good
#    copy reads byte-exact afterwards; the ones that did not are named or
#    placed in a named key range.
# Bytes are compared with the originals (cmp), ids with b3sum.
set -uo pipefail
b3cas=${1:?usage: cli_integrity.sh PATH_TO_B3CAS}
. "$(dirname "$0")/cli_lib.sh"
for tool in b3sum cmp head dd jq; do
	command -v $tool >/dev/null || {
		echo "FAIL: $tool is missing (scripts/deps.sh installs it)"
		exit 1
	}
done

work=$(mktemp -d)
trap 'rm -rf "$work" "$_cli_err"' EXIT
files=$work/files
mkdir -p "$files"

# What "nothing changed" compares: every path, type and size of the
# object files and integrity/ (a writing open's own housekeeping in
# index/ and cache/ aside), and the objects the store lists with their
# counts.
listing() {
	(cd "$1" && find objects integrity -printf '%p %y %s\n' | sort)
	"$b3cas" --store "$1" ls --json | sort
}

# put_files STORE PREFIX N SIZE_EXPR: N new random files, stored; their
# "id name" lines appended to $work/PREFIX.ids.
put_files() {
	local st=$1 prefix=$2 n=$3 size=$4 i f
	for ((i = 0; i < n; i++)); do
		f=$files/$prefix$i
		head -c $((size)) /dev/urandom >"$f"
		echo "$(b3sum --no-names "$f") $f" >>"$work/$prefix.ids"
	done
	# One process: one index table per group.
	cut -d' ' -f2 "$work/$prefix.ids" | xargs "$b3cas" --store "$st" put >/dev/null ||
		echo "FAIL: put $prefix"
}

# ---- item 6: a mirror is checked before it is trusted -------------------
st=$work/m
"$b3cas" --store "$st" init >/dev/null
"$b3cas" --store "$work/sha" init --hash sha256 >/dev/null
mkdir "$work/empty"
put_files "$st" L 3 '70000'
"$b3cas" --store "$st" backup "$work/bk" >/dev/null
read -r bad_id bad_file < <(head -1 "$work/L.ids")
bad_path=$st/objects/${bad_id:0:2}/$bad_id
chmod u+w "$bad_path"
printf 'XXXXXXXX' | dd of="$bad_path" bs=1 seek=100 conv=notrunc 2>/dev/null
"$b3cas" --store "$st/integrity/inner" init >/dev/null
before=$(listing "$st")
for mirror in "$work/typo" "$work/empty" "$work/sha"; do
	expect 3 '^$' "mirror $mirror" -- --store "$st" fsck --repair --mirror "$mirror"
	expect 3 '^$' "mirror $mirror" -- --store "$st" fsck --mirror "$mirror"
	expect 3 '^$' "mirror $mirror" -- --store "$st" scrub --repair --mirror "$mirror"
done
for mirror in "$st" "$st/integrity/inner" "$st/objects" "$st/./integrity/.."; do
	expect 2 '^$' "the store .* itself, or a folder inside it" -- --store "$st" fsck --repair --mirror "$mirror"
done
check "a refused mirror changed nothing" test "$before" == "$(listing "$st")"
check "the damaged object keeps its file" test -f "$bad_path"
expect 0 '^$' '^$' -- --store "$st" exists "$bad_id"
# The real backup heals it.
expect 0 'healed from the mirror' '^$' -- --store "$st" fsck --repair --mirror "$work/bk"
check "healed bytes are the original" cmp -s "$bad_file" <("$b3cas" --store "$st" get "$bad_id")

# ---- item 6: backup and restore never into or from the store itself ----
before=$(listing "$st")
ln -s "$st" "$work/link"
for dest in "$st" "$st/" "$st/sub" "$st/integrity/bk" "$st/objects" "$work/link/x" "$work"; do
	expect 2 '' "cannot back up the store .* into" -- --store "$st" backup "$dest"
done
for src in "$st" "$st/integrity/inner" "$work/link"; do
	expect 2 '' "cannot restore the store .* from" -- --store "$st" restore "$src"
done
check "a refused backup or restore changed nothing" test "$before" == "$(listing "$st")"
check "no folder was made" test ! -e "$st/sub" -a ! -e "$st/integrity/bk"

# ---- item 10: fsck's findings: full paths, strays, staging files --------
st=$work/f
"$b3cas" --store "$st" init >/dev/null
put_files "$st" F 3 '70000'
mapfile -t fid < <(cut -d' ' -f1 "$work/F.ids")
p0=$st/objects/${fid[0]:0:2}/${fid[0]}
p1=$st/objects/${fid[1]:0:2}/${fid[1]}
p2=$st/objects/${fid[2]:0:2}/${fid[2]}
chmod u+w "$p0" "$p2"
printf 'XXXXXXXX' | dd of="$p0" bs=1 seek=10 conv=notrunc 2>/dev/null
rm -f "$p1"
truncate -s 100 "$p2"
echo stray >"$st/objects/strayfile"
mkdir "$st/objects/zz"
mkdir -p "$st/objects/ab"
echo stray >"$st/objects/ab/notanid"
dead=$(sh -c 'echo $$')
echo partial >"$st/tmp/$dead.7.tmp"
json=$("$b3cas" --store "$st" fsck --json); jrc=$?
check "fsck --json exits 1" test $jrc -eq 1
finding() { # KIND PATH: one finding of KIND with that path
	jq -s -e --arg k "$1" --arg p "$2" \
		'any(.[]; .problem == $k and .path == $p)' <<<"$json" >/dev/null
}
check "corrupt carries its path" finding corrupt "$p0"
check "missing carries its path" finding missing "$p1"
check "wrong-size carries its path" finding wrong-size "$p2"
check "objects/strayfile is a stray" finding stray "$st/objects/strayfile"
check "objects/zz/ is a stray" finding stray "$st/objects/zz"
check "objects/ab/notanid is a stray" finding stray "$st/objects/ab/notanid"
check "a dead writer's staging file is a finding" finding staging "$st/tmp/$dead.7.tmp"
expect 1 "corrupt +${fid[0]} .*\\($p0\\)" '^$' -- --store "$st" fsck
expect 1 "stray +- .*\\($st/objects/zz\\)" '^$' -- --store "$st" fsck
# Repair: strays kept in quarantine (never deleted), staging removed.
"$b3cas" --store "$st" fsck --repair >/dev/null
check "strays left the tier" test ! -e "$st/objects/strayfile" -a ! -e "$st/objects/zz" -a ! -e "$st/objects/ab/notanid"
check "strays are in quarantine" test -f "$(echo "$st"/integrity/quarantine/stray-strayfile.*)" -a -d "$(echo "$st"/integrity/quarantine/stray-zz.*)"
check "the staging file is gone" test ! -e "$st/tmp/$dead.7.tmp"
expect 0 '0 problems' '^$' -- --store "$st" fsck

# ---- item 8: a damaged index table --------------------------------------
st=$work/d
"$b3cas" --store "$st" init >/dev/null
# 200 objects, every other one inline; then a backup; then 40 inline
# objects the backup lacks, half of them with two references (a count
# that lives in another column family, so a lost one can be named).
put_files "$st" A 100 '100 + RANDOM % 6000'
put_files "$st" B 100 '70000'
"$b3cas" --store "$st" backup "$work/dbk" >/dev/null
put_files "$st" C 20 '100 + RANDOM % 6000'
put_files "$st" D 20 '100 + RANDOM % 6000'
cut -d' ' -f2 "$work/D.ids" | xargs "$b3cas" --store "$st" put >/dev/null
# The tables of the content column family (its name is in each table's
# properties), oldest first: A, B and C, D. Overwrite 8 bytes inside the
# first data block of the first; in the newest, where C and D are, 8
# bytes every 2000 over its first 60% (its data blocks; the table's own
# index and properties are at its end), so that objects of D are lost
# and the naming of lost objects is exercised.
mapfile -t tables < <(for t in "$st"/index/*.sst; do
	grep -qa 'content' "$t" && echo "$t"; done | sort)
printf 'XXXXXXXX' | dd of="${tables[0]}" bs=1 seek=200 conv=notrunc 2>/dev/null
size=$(stat -c %s "${tables[-1]}")
for ((off = 200; off < size * 6 / 10; off += 2000)); do
	printf 'XXXXXXXX' | dd of="${tables[-1]}" bs=1 seek=$off conv=notrunc 2>/dev/null
done
json=$("$b3cas" --store "$st" fsck --json); jrc=$?
check "fsck reports index damage with exit 1" test $jrc -eq 1
check "the finding is of kind index" jq -s -e 'any(.[]; .problem == "index")' <<<"$json" >/dev/null
expect 1 'index.*damaged.*b3cas recover' '^$' -- --store "$st" fsck --repair --mirror "$work/dbk"
out=$("$b3cas" --store "$st" recover --from "$work/dbk" --json)
check "recover names lost objects (exit 1)" test $? -eq 1
summary=$(tail -1 <<<"$out")
check "recover salvaged" jq -e '.action == "salvaged" and .index_damaged and .ranges_unreadable > 0' <<<"$summary" >/dev/null
ranges=$(jq -r '.unreadable' <<<"$summary")
# In a named range: a content range "content AA..BB" or "content AA".
in_ranges() {
	local id=$1 r from to
	IFS=',' read -ra parts <<<"$ranges"
	for r in "${parts[@]}"; do
		read -r cf span <<<"$r"
		[[ $cf == content ]] || continue
		from=${span%..*}
		to=${span#*..}
		[[ ${id:0:${#from}} > $from || ${id:0:${#from}} == "$from" ]] &&
			[[ ${id:0:${#to}} < $to || ${id:0:${#to}} == "$to" ]] && return 0
	done
	return 1
}
named=$(jq -r 'select(.lost | type == "string") | .lost' <<<"$out" | sort)
# An object is there if the store lists it: the fsck below re-hashes
# every listed object against its id (b3sum's, of the original file), and
# a few of each group are read back and compared byte by byte.
present=$("$b3cas" --store "$st" ls --json | jq -r .id)
unread=0
lost_wrong=0
while read -r id f; do
	if grep -qx "$id" <<<"$present"; then
		if [[ $f =~ [A-D][0-1]$ ]] && ! "$b3cas" --store "$st" get "$id" | cmp -s - "$f"; then
			echo "FAIL: $f does not read back byte-exact"
			lost_wrong=$((lost_wrong + 1))
		fi
		continue
	fi
	unread=$((unread + 1))
	case $f in
	*/A* | */B*) echo "FAIL: $f had a good copy (backup or file) but does not read"; lost_wrong=$((lost_wrong + 1)) ;;
	*/D*) grep -qx "$id" <<<"$named" || { echo "FAIL: lost $f (two references) not named"; lost_wrong=$((lost_wrong + 1)); } ;;
	*) in_ranges "$id" || { echo "FAIL: lost $f outside the named ranges ($ranges)"; lost_wrong=$((lost_wrong + 1)); } ;;
	esac
done < <(cat "$work"/{A,B,C,D}.ids)
check "only objects without a good copy are lost" test $lost_wrong -eq 0
check "objects with two references were lost and named" test "$(grep -c . <<<"$named")" -ge 1
check "everything named lost is unreadable" test "$(grep -c . <<<"$named")" -le $unread
echo "index damage: $unread of 240 objects lost, $(grep -c . <<<"$named") named, recover took $(jq -r .seconds <<<"$summary") s, ranges: $ranges"
expect 0 ' 0 problems' '^$' -- --store "$st" fsck
expect 0 'nothing to rebuild' '^$' -- --store "$st" recover

# ---- item 8: a damaged log of the index -----------------------------------
# A writer killed (-9) after storing 100 inline objects leaves them in the
# log only. The last argument of its put is a fifo nobody writes: the put
# blocks there, and a read-only ls (which replays the log) tells when the
# 100 are in.
# $1: a name for the store, $2: init's options. A plain store keeps the
# bytes in its content entries; a packed one (compression) in the data
# family, written in the same batch, which recover finds in the log.
damaged_log() {
	st=$work/w$1
	rm -f "$work/W.ids" "$work/fifo"
	rm -rf "$work/torn" "$work/len"
	"$b3cas" --store "$st" init $2 >/dev/null
	for ((i = 0; i < 100; i++)); do
		f=$files/W$i
		head -c $((100 + RANDOM % 3000)) /dev/urandom >"$f"
		echo "$(b3sum --no-names "$f") $f" >>"$work/W.ids"
	done
	mkfifo "$work/fifo"
	mapfile -t wfiles < <(cut -d' ' -f2 "$work/W.ids")
	"$b3cas" --store "$st" put "${wfiles[@]}" "$work/fifo" >/dev/null 2>&1 &
	writer=$!
	for ((t = 0; t < 600; t++)); do
		n=$("$b3cas" --store "$st" ls 2>/dev/null | wc -l)
		((n >= 100)) && break
		sleep 0.1
	done
	{ kill -9 $writer && wait $writer; } 2>/dev/null
	check "the writer stored 100 objects in its log" test "$n" -ge 100
	log=$(ls -S "$st"/index/*.log | head -1)
	size=$(stat -c %s "$log")
	check "the log holds them" test "$size" -gt 100000
	# A torn tail is what a crash leaves, not damage: the log cut short
	# anywhere, or followed by zeros (a size that reached the disk before the
	# data), is neither reported nor kept.
	for tail in cut-half cut-5 zeros; do
		rm -rf "$work/torn"
		cp -a "$st" "$work/torn"
		tlog=$work/torn/index/${log##*/}
		case $tail in
		cut-half) truncate -s $((size / 2 + 7)) "$tlog" ;;
		cut-5) truncate -s $((size - 5)) "$tlog" ;;
		zeros) head -c 40000 /dev/zero >>"$tlog" ;;
		esac
		expect 0 ' 0 problems' '^$' -- --store "$work/torn" fsck
		"$b3cas" --store "$work/torn" put "$files/W0" >/dev/null
		check "a torn tail ($tail) is not kept as damage" test ! -e "$work/torn/integrity/recover"
	done
	# A damaged length field (the first fragment's, bytes 4-5 of its header)
	# that no block can hold: RocksDB drops the rest of that block, and
	# recover counts it as an unreadable piece (seen uncounted before: the
	# check of lost bytes below then failed when the damage below hit a
	# length field).
	cp -a "$st" "$work/len"
	llog=$work/len/index/${log##*/}
	printf '\xff\xff' | dd of="$llog" bs=1 seek=4 conv=notrunc 2>/dev/null
	"$b3cas" --store "$work/len" put "$files/W0" >/dev/null 2>&1
	lsum=$("$b3cas" --store "$work/len" recover --json | tail -1)
	check "a damaged length is an unreadable piece" \
		jq -e '.wal_damaged == 1 and .wal_unreadable >= 1' <<<"$lsum" >/dev/null
	printf 'XXXXXXXX' | dd of="$log" bs=1 seek=$((size / 3)) conv=notrunc 2>/dev/null
	json=$("$b3cas" --store "$st" fsck --json); jrc=$?
	check "fsck reports the damaged log (exit 1)" test $jrc -eq 1
	check "the finding is of kind index and names the log" finding index "$log"
	# A writing open keeps a copy before RocksDB replays the log and drops
	# its tail; fsck then reports the kept copy.
	echo extra >"$files/extra"
	"$b3cas" --store "$st" put "$files/extra" >/dev/null
	check "a copy of the damaged log was kept" test -f "$(echo "$st"/integrity/recover/wal.*.log)"
	expect 1 'index .*damaged log of the index, kept' '^$' -- --store "$st" fsck
	out=$("$b3cas" --store "$st" recover --json)
	summary=$(tail -1 <<<"$out")
	check "recover read the damaged log" jq -e '.wal_damaged == 1 and .wal_restored > 50' <<<"$summary" >/dev/null
	unreadable=$(jq -r .wal_unreadable <<<"$summary")
	present=$("$b3cas" --store "$st" ls --json | jq -r .id)
	unread=0 unread_bytes=0
	while read -r id f; do
		grep -qx "$id" <<<"$present" && continue
		unread=$((unread + 1))
		unread_bytes=$((unread_bytes + $(stat -c %s "$f")))
	done <"$work/W.ids"
	# A piece is one 32 KiB block of RocksDB's log; each put here is one
	# record of at most ~3.1 KB, which may reach into it from the block
	# before or after. So the objects lost fit in the damaged pieces plus
	# two records each (counting objects instead was wrong: one piece holds
	# many records, and seen flaky - 7 lost in 1 piece under B3CAS_SIMD=portable).
	check "only writes inside the damaged piece are lost ($unread objects, $unread_bytes bytes, $unreadable pieces)" \
		test $unread_bytes -le $((unreadable * (32768 + 2 * 3200)))
	for i in 0 50 99; do
		read -r id f < <(sed -n "$((i + 1))p" "$work/W.ids")
		grep -qx "$id" <<<"$present" || continue
		check "W$i reads back byte-exact" cmp -s "$f" <("$b3cas" --store "$st" get "$id")
	done
	echo "damaged log ($1 store): $unread of 100 lost, $(jq -r .wal_restored <<<"$summary") brought back from the log"
	expect 0 ' 0 problems' '^$' -- --store "$st" fsck
}
damaged_log plain ""
damaged_log packed "--compress-level 3"

cli_summary
