#!/usr/bin/env bash
# cli_backup_crash.sh B3CAS - kill -9 of `b3cas backup` of a store with
# checkpoints at random moments. After each kill the backup's fsck finds
# no problem but orphan loose files, and every checkpoint the backup
# lists restores exactly from it. Then a backup that runs to the end makes
# every checkpoint restore from the backup, and in the backup, once every
# checkpoint and the callers' objects are removed, `gc --grace 0` leaves
# nothing: what a killed run copied and had not linked yet was held by a
# lease, which the next open dropped, so no count is too high.
# B3CAS_BACKUP_KILLS kills (default 10; ten times as many with
# B3CAS_TEST_LONG).
set -uo pipefail
b3cas=${1:?usage: cli_backup_crash.sh PATH_TO_B3CAS}
kills=${B3CAS_BACKUP_KILLS:-10}
[[ -n ${B3CAS_TEST_LONG:-} ]] && kills=$((kills * 10))
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
st=$work/store
bk=$work/backup
sb=$work/sb
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
meta() {
	(cd "$1" && find . -printf '%p %y %m %U %G %s %T@ %n %l\n' | sort)
}

# restores_from STORE: every checkpoint it lists restores as its step
restores_from() {
	local id rest label step d=$work/r
	while read -r id rest; do
		step=$("$b3cas" --store "$1" checkpoint show "$id" |
			awk '$1 == "label" && $2 ~ /^step=/ { sub("step=", "", $2); print $2 }')
		[[ -n $step ]] || fail "$1: checkpoint $id has no step label"
		rm -rf "$d" "$d.blobs"
		"$b3cas" --store "$1" checkpoint restore -q --blobs "$d.blobs" \
			"$id" "$d" || fail "$1: restore of step $step"
		diff -r --no-dereference "$work/copy-$step" "$d" >/dev/null ||
			fail "$1: step $step: files differ"
		cmp -s <(meta "$work/copy-$step") <(meta "$d") ||
			fail "$1: step $step: metadata differs"
		cmp -s "$work/mem-$step" "$d.blobs/memory" ||
			fail "$1: step $step: memory differs"
	done < <("$b3cas" --store "$1" checkpoint list)
	rm -rf "$d" "$d.blobs"
}

"$b3cas" --store "$st" init --chunking --compress >/dev/null || fail init
mkdir -p "$sb/usr/share" "$sb/etc"
for ((i = 0; i < 300; i++)); do
	head -c $((i * 37 % 5000 + 1)) /dev/urandom > "$sb/usr/share/f-$i"
done
head -c 4000000 /dev/urandom > "$work/mem"
shared=$("$b3cas" --store "$st" put --no-names "$sb/usr/share/f-7") ||
	fail "put"
for ((step = 0; step < 6; step++)); do
	echo "step $step" > "$sb/etc/step"
	head -c 20000 /dev/urandom > "$sb/usr/share/new-$step"
	dd if=/dev/urandom of="$work/mem" bs=4096 count=4 \
		seek=$((step * 37 % 900)) conv=notrunc status=none
	cp -a "$sb" "$work/copy-$step"
	cp "$work/mem" "$work/mem-$step"
	"$b3cas" --store "$st" checkpoint create s1 --tree "$sb" \
		--blob memory="$work/mem" --label step=$step >/dev/null ||
		fail "create $step"
done

for ((k = 0; k < kills; k++)); do
	# each kill on a fresh backup half the time, else on the one the
	# kills before left
	((SRANDOM % 2)) && rm -rf "$bk"
	"$b3cas" --store "$st" backup "$bk" >/dev/null 2>&1 &
	pid=$!
	sleep "0.$((SRANDOM % 2))$((SRANDOM % 10))"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	[[ -e $bk/b3cas.conf ]] || continue
	fs=$("$b3cas" --store "$bk" fsck --json | tail -1)
	problems=$(sed -n 's/.*"problems":\([0-9]*\).*/\1/p' <<<"$fs")
	orphans=$(sed -n 's/.*"orphans":\([0-9]*\).*/\1/p' <<<"$fs")
	staging=$(sed -n 's/.*"staging":\([0-9]*\).*/\1/p' <<<"$fs")
	[[ -n $problems && -n $orphans && -n $staging ]] ||
		fail "fsck of the killed backup: $fs"
	((problems == orphans + staging)) || fail "fsck after kill $k: $fs"
	restores_from "$bk"
done

"$b3cas" --store "$st" backup "$bk" >/dev/null || fail "the last backup"
[[ $("$b3cas" --store "$bk" checkpoint list) == \
	$("$b3cas" --store "$st" checkpoint list) ]] || fail "lists differ"
restores_from "$bk"
"$b3cas" --store "$bk" checkpoint rm \
	$("$b3cas" --store "$bk" checkpoint list | cut -d' ' -f1) >/dev/null ||
	fail "rm"
"$b3cas" --store "$bk" rm "$shared" >/dev/null || fail "rm $shared"
"$b3cas" --store "$bk" gc --grace 0 >/dev/null || fail "gc"
left=$("$b3cas" --store "$bk" stats | awk '/^objects:/ { print $2 }')
[[ $left == 0 ]] || fail "$left objects left in the backup after rm + gc"
echo "cli_backup_crash: $kills kills, ok"
