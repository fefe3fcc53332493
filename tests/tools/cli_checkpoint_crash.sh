#!/usr/bin/env bash
# cli_checkpoint_crash.sh B3CAS - kill -9 of `b3cas checkpoint create`,
# `rm` and `prune` at random moments (issue 17, crash safety). A sandbox
# (a few hundred files, a memory image) changes at every step and gets a
# checkpoint labelled with the step; a copy of each step is kept. After
# each kill:
#   - fsck finds no problem but orphan loose files (a kill between a
#     file's rename and the index write: harmless);
#   - every checkpoint that existed before, and that the killed command
#     did not target, is still listed; a checkpoint the killed create may
#     have made exists whole or not at all;
#   - the newest checkpoint and two others picked at random restore
#     exactly as their step was (diff -r --no-dereference, cmp of the
#     memory blob).
# At the end every checkpoint is removed and `gc --grace 0` must leave
# the store with no object: nothing leaked (a killed create's references
# are a lease's, dropped by the next open for writing).
# B3CAS_CKPT_KILLS kills (default 20; ten times as many with
# B3CAS_TEST_LONG, as scripts/campaign.sh runs it).
set -uo pipefail
b3cas=${1:?usage: cli_checkpoint_crash.sh PATH_TO_B3CAS}
kills=${B3CAS_CKPT_KILLS:-20}
[[ -n ${B3CAS_TEST_LONG:-} ]] && kills=$((kills * 10))
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export B3CAS_STORE=$work/store
sb=$work/sb
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
rand() { # rand N: 0..N-1
	echo $((SRANDOM % $1))
}

# the steps known to exist, and those that may be gone (a killed rm or
# prune's targets), by step number
declare -A have maybe
step=0

# One more step of the sandbox, and its copy.
change() {
	step=$((step + 1))
	echo "log $step" >> "$sb/var/log/app.log"
	echo "edit $step $SRANDOM" > "$sb/etc/conf-$((step % 5))"
	head -c $((SRANDOM % 30000 + 1)) /dev/urandom > "$sb/usr/pkg-$step"
	((step > 4)) && rm -f "$sb/usr/pkg-$((step - 4))"
	dd if=/dev/urandom of="$work/mem" bs=4096 count=4 \
		seek=$((SRANDOM % 500)) conv=notrunc status=none
	rm -rf "$work/copy-$step"
	cp -a "$sb" "$work/copy-$step"
	cp "$work/mem" "$work/mem-$step"
}

# The checkpoints listed: "STEP ID" lines.
listed() {
	local id
	"$b3cas" checkpoint list s1 | while read -r id _; do
		echo "$("$b3cas" checkpoint show "$id" | sed -n 's/^label *step=//p') $id"
	done
}

check_restore() { # check_restore STEP ID
	local out=$work/out
	rm -rf "$out" "$work/blobs"
	"$b3cas" checkpoint restore -q --blobs "$work/blobs" "$2" "$out" ||
		fail "restore of step $1 ($2)"
	diff -r --no-dereference "$work/copy-$1" "$out" >&2 ||
		fail "step $1 restored differs"
	cmp -s "$work/mem-$1" "$work/blobs/memory" ||
		fail "step $1: the memory blob differs"
}

check() {
	local fs problems orphans line s id
	local -A now
	fs=$("$b3cas" fsck --json | tail -1)
	problems=$(sed 's/.*"problems":\([0-9]*\).*/\1/' <<<"$fs")
	orphans=$(sed 's/.*"orphans":\([0-9]*\).*/\1/' <<<"$fs")
	((problems == orphans)) || fail "fsck after the kill: $fs"
	while read -r s id; do
		[[ -n $s ]] && now[$s]=$id
	done < <(listed)
	for s in "${!have[@]}"; do
		if [[ -z ${now[$s]:-} ]]; then
			[[ -n ${maybe[$s]:-} ]] ||
				fail "checkpoint of step $s is gone"
			unset "have[$s]"
		fi
	done
	for s in "${!now[@]}"; do
		have[$s]=${now[$s]}
	done
	maybe=()
	# the newest, and two at random
	local -a steps=("${!have[@]}")
	((${#steps[@]})) || return 0
	local newest=0
	for s in "${steps[@]}"; do ((s > newest)) && newest=$s; done
	check_restore "$newest" "${have[$newest]}"
	for _ in 1 2; do
		s=${steps[$(rand ${#steps[@]})]}
		check_restore "$s" "${have[$s]}"
	done
}

# compressing: creates rewrite the parent's memory chunks as deltas, so
# kills land in those rewrites too
"$b3cas" init --chunking --compress >/dev/null || fail "init"
mkdir -p "$sb/etc" "$sb/var/log" "$sb/usr/share"
for i in $(seq 1 150); do
	head -c $((i * 97)) /dev/urandom > "$sb/usr/share/f$i"
done
ln -s ../etc/conf-1 "$sb/usr/link"
head -c 4000000 /dev/urandom > "$work/mem"
# two checkpoints nothing kills
for _ in 1 2; do
	change
	"$b3cas" checkpoint create s1 --tree "$sb" --blob memory="$work/mem" \
		--label step=$step >/dev/null || fail "create"
done
check

for ((k = 0; k < kills; k++)); do
	op=$(rand 10)
	if ((op < 6 || ${#have[@]} < 3)); then
		change
		cmd=(checkpoint create s1 --tree "$sb" --blob memory="$work/mem"
		     --label step=$step)
	elif ((op < 8)); then
		# rm of one at random (not the newest: the next create's
		# parent; any would do)
		steps=("${!have[@]}")
		s=${steps[$(rand ${#steps[@]})]}
		maybe[$s]=1
		cmd=(checkpoint rm "${have[$s]}")
	else
		# prune: keep the last 3; the others may go
		for s in "${!have[@]}"; do maybe[$s]=1; done
		cmd=(checkpoint prune s1 --keep-last 3)
	fi
	"$b3cas" "${cmd[@]}" >/dev/null 2>&1 &
	pid=$!
	sleep "0.0$(rand 10)$(rand 10)"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	check
done

# nothing leaked: every checkpoint goes, and GC frees everything
for s in "${!have[@]}"; do
	"$b3cas" checkpoint rm "${have[$s]}" >/dev/null ||
		fail "rm of step $s"
done
"$b3cas" gc --grace 0 >/dev/null || fail "gc"
objects=$("$b3cas" stats --json | sed 's/.*"objects":\([0-9]*\).*/\1/')
[[ $objects == 0 ]] ||
	fail "$objects objects left after every checkpoint went and GC ran"
echo "cli_checkpoint_crash: $kills kills, $step steps, ok"
