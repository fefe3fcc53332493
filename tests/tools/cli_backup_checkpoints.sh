#!/usr/bin/env bash
# cli_backup_checkpoints.sh B3CAS - backup, restore and recover of a store
# that holds checkpoints: a backup carries every checkpoint (its name, its
# trees, files and blobs, which only links hold) and counts that match
# the source's, so that every checkpoint restores from the backup exactly
# (diff -r, stat, cmp), and removing them all there and collecting leaves
# nothing behind but what a caller holds; a second backup copies only what
# is new; restore brings checkpoints back into an empty store and one
# whose checkpoint was removed and collected; recover --from brings them
# back after the index is lost. A tree a caller holds (tree put) and a
# file both a caller and the trees hold are carried with their counts; a
# folder of 300 entries makes trees whose links span several nodes. In a chunking and a plain store.
set -uo pipefail
b3cas=${1:?usage: cli_backup_checkpoints.sh PATH_TO_B3CAS}
steps=${B3CAS_BACKUP_STEPS:-4}
. "$(dirname "$0")/cli_lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work" "$_cli_err"' EXIT

meta() {
	(cd "$1" && find . -printf '%p %y %m %U %G %s %T@ %n %l\n' | sort)
}

# same_as STORE STEP...: each step's checkpoint of sandbox s1, restored
# from STORE, is the copy taken of that step.
same_as() {
	local st=$1 i d
	shift
	for i in "$@"; do
		d=$work/r-$i-$RANDOM
		expect 0 '' '' -- --store "$st" checkpoint restore -q \
			--blobs "$d.blobs" "${ids[$i]}" "$d"
		check "$st: step $i: files" diff -r --no-dereference \
			"$work/copy-$i" "$d"
		check "$st: step $i: metadata" \
			cmp -s <(meta "$work/copy-$i") <(meta "$d")
		check "$st: step $i: memory" cmp -s "$work/mem-$i" \
			"$d.blobs/memory"
		rm -rf "$d" "$d.blobs"
	done
}

# objects STORE: the count of its stored objects (stats)
objects() {
	"$b3cas" --store "$1" stats | awk '/^objects:/ { print $2 }'
}

# empties STORE TREE FILE: with every checkpoint removed and collected,
# only what callers hold is left (TREE, FILE); with those removed too,
# nothing: no count is too high, and fsck finds nothing wrong.
empties() {
	local st=$1
	expect 0 '' '' -- --store "$st" checkpoint rm \
		$("$b3cas" --store "$st" checkpoint list | cut -d' ' -f1)
	expect 0 '' '' -- --store "$st" rm "$2"
	expect 0 '' '' -- --store "$st" gc --grace 0
	check "$st: after rm + gc only the put file is left" \
		test "$(objects "$st")" = 1
	expect 0 '' '' -- --store "$st" rm "$3"
	expect 0 '' '' -- --store "$st" gc --grace 0
	check "$st: then nothing" test "$(objects "$st")" = 0
	expect 0 ' 0 problems$' '' -- --store "$st" fsck
}

run() {
	local mode=$1 st=$work/store sb=$work/sb bk=$work/backup i
	ids=()
	rm -rf "$work"/store* "$work"/sb "$work"/backup* "$work"/copy-* \
		"$work"/mem-* "$work"/other
	if [[ $mode == chunking ]]; then
		expect 0 '' '' -- --store "$st" init --chunking --compress
	else
		expect 0 '' '' -- --store "$st" init
	fi
	mkdir -p "$sb/etc" "$sb/bin" "$sb/var/log"
	printf 'x%.0s' {1..3000} > "$sb/bin/tool"
	ln "$sb/bin/tool" "$sb/bin/tool-alias"
	ln -s ../bin/tool "$sb/etc/tool-link"
	head -c 300000 /dev/urandom > "$sb/bin/shared"
	# a folder of many entries: its tree's links span several nodes
	mkdir -p "$sb/usr/share"
	for ((i = 0; i < 300; i++)); do
		echo "doc $i" > "$sb/usr/share/doc-$i"
	done
	head -c 1500000 /dev/urandom > "$work/mem"
	# a file a caller holds too (put), and that every tree holds
	expect 0 '^[0-9a-f]{64}$' '' -- --store "$st" put --no-names "$sb/bin/shared"
	local shared=$out
	for ((i = 0; i < steps; i++)); do
		echo "log $i" >> "$sb/var/log/app.log"
		head -c $((i * 7000 + 5)) /dev/urandom > "$sb/bin/pkg-$i"
		chmod 0$((600 + i % 2 * 40)) "$sb/etc"
		dd if=/dev/urandom of="$work/mem" bs=4096 count=2 \
			seek=$((i * 11 % 300)) conv=notrunc status=none
		cp -a "$sb" "$work/copy-$i"
		cp "$work/mem" "$work/mem-$i"
		expect 0 '^[0-9a-f]{64} s1 ' '' -- --store "$st" checkpoint \
			create s1 --tree "$sb" --blob memory="$work/mem" \
			--time "2026-01-01T0$i:00:00Z"
		ids[i]=${out%% *}
	done
	# a tree only a caller holds (tree put), sharing the rest
	cp -a "$sb" "$work/other"
	echo "other" > "$work/other/etc/other"
	expect 0 '^[0-9a-f]{64}$' '' -- --store "$st" tree put -q "$work/other"
	local tree=$out
	# a second sandbox forked from the first checkpoint
	expect 0 '' '' -- --store "$st" checkpoint fork "${ids[0]}" s2

	# the backup: every checkpoint, by name and whole
	expect 0 "^backup: .* copied .* $((steps + 1)) names set" '' -- \
		--store "$st" backup "$bk"
	local list_src list_bk
	list_src=$("$b3cas" --store "$st" checkpoint list)
	list_bk=$("$b3cas" --store "$bk" checkpoint list)
	check "$mode: the backup lists the checkpoints" \
		test "$list_src" = "$list_bk"
	expect 0 ' 0 problems$' '' -- --store "$bk" fsck
	same_as "$bk" $(seq 0 $((steps - 1)))
	cp -a "$bk" "$work/backup1"
	expect 0 '' '' -- --store "$bk" tree get "$tree" "$work/tg"
	check "$mode: the tree from the backup" diff -r --no-dereference \
		"$work/other" "$work/tg"
	rm -rf "$work/tg"

	# a second run: nothing; a new checkpoint: only it
	expect 0 '^backup: .* 0 copied .* 0 names set' '' -- \
		--store "$st" backup "$bk"
	echo "new" > "$sb/etc/new"
	cp -a "$sb" "$work/copy-$steps"
	cp "$work/mem" "$work/mem-$steps"
	expect 0 '^[0-9a-f]{64} s1 ' '' -- --store "$st" checkpoint create s1 \
		--tree "$sb" --blob memory="$work/mem" --time "2026-01-02T00:00:00Z"
	ids[steps]=${out%% *}
	expect 0 '^backup: .* 1 names set' '' -- --store "$st" backup "$bk"
	local copied=${out#*objects, }
	copied=${copied%% copied*}
	check "$mode: the second backup copies little ($copied)" \
		test "$copied" -ge 2 -a "$copied" -le 12
	same_as "$bk" "$steps"

	# a checkpoint removed here stays in the backup
	expect 0 '' '' -- --store "$st" checkpoint rm "${ids[1]}"
	expect 0 '' '' -- --store "$st" gc --grace 0
	expect 0 '' '' -- --store "$st" backup "$bk"
	same_as "$bk" 1

	# counts: in a copy of the backup (made by one run, and by four),
	# every checkpoint removed and collected leaves nothing
	empties "$work/backup1" "$tree" "$shared"
	cp -a "$bk" "$work/backup2"
	empties "$work/backup2" "$tree" "$shared"

	# restore into an empty store: every checkpoint back, and counts
	# that let them all go
	expect 0 '' '' -- --store "$work/store3" init
	expect 0 ' names set' '' -- --store "$work/store3" restore "$bk"
	check "$mode: restored list" test \
		"$("$b3cas" --store "$work/store3" checkpoint list)" = \
		"$("$b3cas" --store "$bk" checkpoint list)"
	same_as "$work/store3" $(seq 0 "$steps")
	expect 0 ' 0 problems$' '' -- --store "$work/store3" fsck
	empties "$work/store3" "$tree" "$shared"

	# restore into the source: the checkpoint removed and collected
	# there comes back; one removed and not yet collected does not (a
	# restore does not undo deletes), until it is collected
	expect 0 '' '' -- --store "$st" checkpoint rm "${ids[2]}"
	expect 0 ' 1 names set' '' -- --store "$st" restore "$bk"
	check "$mode: a removed checkpoint stays removed" \
		test "$("$b3cas" --store "$st" checkpoint list | grep -c \
		"^${ids[2]} ")" = 0
	same_as "$st" 1
	expect 0 '' '' -- --store "$st" gc --grace 0
	expect 0 ' 1 names set' '' -- --store "$st" restore "$bk"
	same_as "$st" 1 2
	expect 0 ' 0 problems$' '' -- --store "$st" fsck

	# recover --from after the index is lost
	rm -rf "$st/index"
	expect 0 '' '' -- --store "$st" recover --from "$bk"
	check "$mode: recovered list" test \
		"$("$b3cas" --store "$st" checkpoint list)" = \
		"$("$b3cas" --store "$bk" checkpoint list)"
	same_as "$st" $(seq 0 "$steps")
	expect 0 ' 0 problems$' '' -- --store "$st" fsck
}

for mode in ${B3CAS_BACKUP_MODES:-chunking plain}; do
	run "$mode"
done
cli_summary
