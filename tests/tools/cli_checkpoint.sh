#!/usr/bin/env bash
# cli_checkpoint.sh B3CAS - trees and checkpoints through the program: a
# changing sandbox (files edited, added and removed, a log growing, hard
# links, a memory image with pages rewritten and bytes inserted) gets a
# checkpoint per step; each is restored, by id and as SANDBOX@TIME, and
# compared with the copy of that step (diff -r --no-dereference, cmp of
# the blobs, stat of modes and times), a range of the memory blob read
# alone (checkpoint cat); fork, diff, prune (dry run, then
# real: exactly what the rules keep stays), rm, and GC that frees
# everything at the end; bad input gets exit 2 and a message; tree get's
# --threads, and its progress line on a terminal only. In a chunking and
# a plain store.
set -uo pipefail
b3cas=${1:?usage: cli_checkpoint.sh PATH_TO_B3CAS}
steps=${B3CAS_CKPT_STEPS:-8}
((steps >= 3)) || steps=3 # the diffs below compare steps 1, 2 and fork 2
. "$(dirname "$0")/cli_lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work" "$_cli_err"' EXIT

# stat of every entry, for what diff -r does not compare
meta() {
	(cd "$1" && find . -printf '%p %y %m %U %G %s %T@ %n\n' | sort)
}

run_series() {
	local mode=$1
	local st=$work/store-$mode sb=$work/sb-$mode
	local -a ids times
	export B3CAS_STORE=$st
	if [[ $mode == chunking ]]; then
		# compressing too: each memory blob rewrites its parent's
		# replaced chunks as deltas, which every restore then reads
		expect 0 '' '' -- init --chunking --compress
	else
		expect 0 '' '' -- init
	fi
	mkdir -p "$sb/etc" "$sb/var/log" "$sb/bin"
	echo "hello" > "$sb/etc/motd"
	printf 'x%.0s' {1..3000} > "$sb/bin/tool"
	ln "$sb/bin/tool" "$sb/bin/tool-alias"
	ln -s ../etc/motd "$sb/bin/motd-link"
	head -c 2000000 /dev/urandom > "$work/mem-$mode"
	for ((i = 0; i < steps; i++)); do
		# the sandbox changes
		echo "log line $i $(date +%s%N)" >> "$sb/var/log/app.log"
		echo "edit $i" > "$sb/etc/conf-$((i % 3))"
		head -c $((i * 1000 + 10)) /dev/urandom > "$sb/bin/pkg-$i"
		((i > 2)) && rm -f "$sb/bin/pkg-$((i - 3))"
		chmod 0$((600 + i % 2 * 40)) "$sb/etc/motd"
		# the memory image: pages rewritten, bytes inserted
		dd if=/dev/urandom of="$work/mem-$mode" bs=4096 count=3 \
			seek=$((i * 7 % 400)) conv=notrunc status=none
		{ head -c $((i * 5000 + 17)) "$work/mem-$mode"; echo -n "ins$i"
		  tail -c +$((i * 5000 + 18)) "$work/mem-$mode"; } > "$work/m"
		mv "$work/m" "$work/mem-$mode"
		cp -a "$sb" "$work/copy-$mode-$i"
		cp "$work/mem-$mode" "$work/memcopy-$mode-$i"
		expect 0 '^[0-9a-f]{64} s1 [0-9T:.-]+Z$' '' -- checkpoint create s1 \
			--tree "$sb" --blob memory="$work/mem-$mode" \
			--label step=$i
		ids[i]=${out%% *}
		times[i]=$(cut -d' ' -f3 <<<"$out")
	done
	# every point in time restores exactly, by id and by time
	for ((i = 0; i < steps; i++)); do
		local ref=${ids[i]}
		((i % 2)) && ref="s1@${times[i]}"
		expect 0 '' '' -- checkpoint restore -q "$ref" "$work/r-$mode-$i" \
			--blobs "$work/rb-$mode-$i"
		check "step $i ($ref): files" diff -r --no-dereference \
			"$work/copy-$mode-$i" "$work/r-$mode-$i"
		check "step $i: metadata" diff <(meta "$work/copy-$mode-$i") \
			<(meta "$work/r-$mode-$i")
		check "step $i: memory" cmp "$work/memcopy-$mode-$i" \
			"$work/rb-$mode-$i/memory"
		# a range of the blob alone (lazy paging)
		local off=$(((i * 7919 + 4093) % 1900000)) len=$((4096 + i * 13))
		check "step $i: a range of memory" cmp \
			<("$b3cas" checkpoint cat "$ref" memory --offset $off \
				--length $len) \
			<(tail -c +$((off + 1)) "$work/memcopy-$mode-$i" |
				head -c $len)
	done
	expect 1 '' "no blob 'nope'" -- checkpoint cat s1 nope
	# a blob of several parts, read on several threads (each part at
	# least 32 MiB): an image and a version of it with pages rewritten,
	# whose parent is rewritten against it in the chunking store
	head -c $((70 << 20)) /dev/urandom > "$work/big-$mode"
	expect 0 '' '' -- checkpoint create big --blob memory="$work/big-$mode"
	cp "$work/big-$mode" "$work/big0-$mode"
	for p in 3 1000 9000 17000; do
		dd if=/dev/urandom of="$work/big-$mode" bs=4096 count=2 \
			seek=$p conv=notrunc status=none
	done
	expect 0 '' '' -- checkpoint create big --blob memory="$work/big-$mode"
	expect 0 '' '' -- checkpoint list big
	local big0=${out%% *}
	expect 0 '' '' -- checkpoint restore -q --threads 3 "$big0" \
		"$work/bt0-$mode" --blobs "$work/bb0-$mode"
	check "big blob, older, in parts" cmp "$work/big0-$mode" \
		"$work/bb0-$mode/memory"
	expect 0 '' '' -- checkpoint restore -q --threads 4 big \
		"$work/bt1-$mode" --blobs "$work/bb1-$mode"
	check "big blob, newer, in parts" cmp "$work/big-$mode" \
		"$work/bb1-$mode/memory"
	expect 2 '' 'cannot write .*memory' -- checkpoint restore -q big \
		"$work/bt2-$mode" --blobs "$work/bb1-$mode"
	check "the blob in the way is left as it was" cmp "$work/big-$mode" \
		"$work/bb1-$mode/memory"
	# --sparse: zero blocks of the blobs become holes, the bytes the
	# same; a blob in parts (80 MiB, zero runs in both parts, one not
	# 4 KiB aligned, one at the end) and one streamed (3 MiB)
	{ head -c $((8 << 20)) /dev/urandom; head -c $((30 << 20)) /dev/zero
	  head -c 5 /dev/urandom; head -c $((20 << 20)) /dev/zero
	  head -c $((12 << 20)) /dev/urandom
	  head -c $((10 << 20)) /dev/zero; } > "$work/sparse-$mode"
	{ head -c $((1 << 20)) /dev/zero; head -c 4097 /dev/urandom
	  head -c $(((2 << 20) - 4097)) /dev/zero; } > "$work/small-$mode"
	expect 0 '' '' -- checkpoint create sp --blob memory="$work/sparse-$mode" \
		--blob small="$work/small-$mode"
	expect 0 '' '' -- checkpoint restore -q --sparse --threads 3 sp \
		"$work/spt-$mode" --blobs "$work/spb-$mode"
	check "sparse blob in parts: bytes" cmp "$work/sparse-$mode" \
		"$work/spb-$mode/memory"
	check "sparse blob streamed: bytes" cmp "$work/small-$mode" \
		"$work/spb-$mode/small"
	local alloc
	alloc=$(stat -c '%b * %B' "$work/spb-$mode/memory")
	check "sparse blob in parts: holes ($((alloc)) bytes allocated)" \
		test $((alloc)) -le $(((21 << 20) + (1 << 20)))
	alloc=$(stat -c '%b * %B' "$work/spb-$mode/small")
	check "sparse blob streamed: holes ($((alloc)) bytes allocated)" \
		test $((alloc)) -le $((64 << 10))
	expect 0 '' '' -- checkpoint restore -q sp "$work/spt2-$mode" \
		--blobs "$work/spb2-$mode"
	alloc=$(stat -c '%b * %B' "$work/spb2-$mode/memory")
	check "not sparse without --sparse ($((alloc)) bytes allocated)" \
		test $((alloc)) -ge $((80 << 20))
	expect 0 '' '' -- checkpoint rm sp
	rm -rf "$work"/{sparse,small,spb,spt,spb2,spt2}-"$mode"
	expect 0 '' '' -- checkpoint rm big
	rm -f "$work/big-$mode" "$work/big0-$mode"
	rm -rf "$work"/bb[01]-"$mode" "$work"/bt[012]-"$mode"
	# a time between two checkpoints gives the earlier one
	expect 0 "^id +${ids[2]}" '' -- checkpoint show "s1@${times[2]}"
	expect 0 'step=0' '' -- checkpoint show "${ids[0]}"
	expect 1 '' 'no checkpoint at or before' -- checkpoint show s1@1999-01-01
	# diff: the files and the blob that changed
	expect 1 'A bin/pkg-2' '' -- checkpoint diff "${ids[1]}" "${ids[2]}"
	check "diff lists the memory blob" grep -q 'M blob:memory' <<<"$out"
	check "diff lists the label" grep -q 'M label:step' <<<"$out"
	expect 0 '^$' '' -- checkpoint diff "${ids[2]}" "${ids[2]}"
	# fork: a new sandbox sharing everything
	expect 0 ' s2 ' '' -- checkpoint fork "${ids[2]}" s2
	expect 0 '' '' -- checkpoint restore -q --threads 1 s2 "$work/f-$mode"
	check "fork restores step 2" diff -r --no-dereference \
		"$work/copy-$mode-2" "$work/f-$mode"
	expect 0 "parent +${ids[2]}" '' -- checkpoint show s2
	# prune: dry run changes nothing; then the newest 2 of s1 stay
	expect 0 'would-remove' '' -- checkpoint prune s1 --keep-last 2 --dry-run
	expect 0 '' '' -- checkpoint list s1
	check "dry run kept all" test "$(wc -l <<<"$out")" -eq "$steps"
	expect 0 'remove' '' -- checkpoint prune s1 --keep-last 2
	expect 0 "${ids[steps - 1]}" '' -- checkpoint list s1
	check "prune kept 2" test "$(wc -l <<<"$out")" -eq 2
	expect 0 '' '' -- gc --grace 0
	# what prune kept is whole after GC; so is the fork
	expect 0 '' '' -- checkpoint restore -q s1 "$work/p-$mode" \
		--blobs "$work/pb-$mode"
	check "latest after prune+gc" diff -r --no-dereference \
		"$work/copy-$mode-$((steps - 1))" "$work/p-$mode"
	check "latest memory after prune+gc" cmp \
		"$work/memcopy-$mode-$((steps - 1))" "$work/pb-$mode/memory"
	expect 0 '' '' -- checkpoint restore -q s2 "$work/f2-$mode"
	check "fork after prune+gc" diff -r --no-dereference \
		"$work/copy-$mode-2" "$work/f2-$mode"
	expect 0 '0 problems' '' -- fsck
	# bad input
	expect 2 '' 'not empty' -- checkpoint restore s1 "$work/p-$mode"
	expect 2 '' 'not a time' -- checkpoint show s1@yesterday
	expect 2 '' 'no --keep rule' -- checkpoint prune s1
	expect 2 '' "unknown subcommand 'frob'" -- checkpoint frob
	expect 2 '' 'NAME=VALUE' -- checkpoint create s1 --blob memory
	expect 2 '' 'cannot read' -- checkpoint create s1 --blob m=/nonexistent
	expect 2 '' 'sandbox name' -- checkpoint create 'a/b'
	expect 2 '' 'not a folder' -- checkpoint create s3 --tree /etc/hostname
	expect 1 '' 'no checkpoint' -- checkpoint rm nosuch
	# a time already taken fails before anything is read
	expect 0 '' '' -- checkpoint create s9 --time 2030-01-01T00:00:00Z
	expect 2 '' '^b3cas: sandbox s9 has a checkpoint at 2030-01-01T00:00:00.000000000Z already$' \
		-- checkpoint create s9 --time 2030-01-01T00:00:00Z \
		--blob m=/nonexistent
	# nothing of a failed create is left: everything goes with the rest
	expect 0 '' '' -- checkpoint list
	local all
	all=$(cut -d' ' -f1 <<<"$out")
	# shellcheck disable=SC2086
	expect 0 '' '' -- checkpoint rm $all
	expect 0 '' '' -- gc --grace 0
	expect 0 '^objects: +0 ' '' -- stats
	expect 0 '0 problems' '' -- fsck
	unset B3CAS_STORE
}

# B3CAS_CKPT_MODES: which stores (CI's sanitizer build: chunking only)
for mode in ${B3CAS_CKPT_MODES:-chunking plain}; do
	run_series "$mode"
done

# trees alone
export B3CAS_STORE=$work/store-trees
expect 0 '' '' -- init
mkdir -p "$work/t/a/b"
echo 1 > "$work/t/a/b/f"
expect 0 '^[0-9a-f]{64}$' '' -- tree put -q "$work/t"
t1=$out
expect 0 ' a/b/f$' '' -- tree ls -r "$t1"
expect 0 ' f$' '' -- tree ls "$t1" a/b
expect 1 '' 'no such entry' -- tree ls "$t1" a/zz
echo 2 >> "$work/t/a/b/f"
expect 0 '' '' -- tree put -q "$work/t"
t2=$out
expect 1 '^M a/b/f$' '' -- tree diff "$t1" "$t2"
expect 0 '' '' -- tree get "$t1" "$work/tg"
check "tree get" test "$(cat "$work/tg/a/b/f")" = 1
expect 2 '' 'not empty' -- tree get "$t1" "$work/tg"
# off a terminal: the counts, no progress line; on one (script's pty):
# the line, ended by the last call (1 of 1 files)
expect 0 '' '^tree get: 1 files \(2 bytes\), 3 folders, 0 links and special files$' \
	-- tree get --threads 3 "$t1" "$work/tg3"
check "tree get --threads 3" test "$(cat "$work/tg3/a/b/f")" = 1
if command -v script >/dev/null; then
	tty_out=$(script -qec "'$b3cas' tree get '$t1' '$work/tg4'" /dev/null)
	check "progress on a terminal" grep -q $'\r.*tree get: 100% 1 of 1 files' \
		<<<"$tty_out"
fi
expect 0 'Usage: ' '^$' -- tree get --help
expect 2 '' 'threads' -- tree get --threads 65 "$t1" "$work/tg5"
expect 1 '' 'not stored' -- tree get "$(printf '0%.0s' {1..64})" "$work/tg2"
expect 2 '' 'not a folder' -- tree put /etc/hostname
expect 0 '' '' -- rm "$t1" "$t2"
expect 0 '' '' -- gc --grace 0
expect 0 '^objects: +0 ' '' -- stats
cli_summary
