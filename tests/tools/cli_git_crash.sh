#!/usr/bin/env bash
# cli_git_crash.sh B3CAS - kill -9 of `b3cas git import` at random
# moments. After each kill: fsck finds no problem but orphan loose files
# and staging files (the killed run's leftovers); every object of the
# repository reads from the store exactly as git gives it, or is missing
# (`git cat-file --batch` against b3cas's): the mapping and the objects
# agree. Then an import that runs to the end makes every object read, and
# after `gc --grace 0` the store holds exactly the objects of a store the
# repository was imported into once, without kills: nothing leaked.
# A kill too late for the import is followed by `git rm` and `gc --grace
# 0`, which must leave no object. B3CAS_GIT_KILLS kills (default 10; ten
# times as many with B3CAS_TEST_LONG).
set -uo pipefail
b3cas=${1:?usage: cli_git_crash.sh PATH_TO_B3CAS}
kills=${B3CAS_GIT_KILLS:-10}
[[ -n ${B3CAS_TEST_LONG:-} ]] && kills=$((kills * 10))
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com \
	GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com \
	GIT_CONFIG_NOSYSTEM=1 HOME=$work

# a repository of a few thousand objects: 60 commits of a changing tree
r=$work/repo
git init -q "$r"
for ((c = 0; c < 60; c++)); do
	mkdir -p "$r/d$((c % 7))"
	for ((f = 0; f < 20; f++)); do
		head -c $(((c * 131 + f * 17) % 3000 + 1)) /dev/urandom \
			> "$r/d$((c % 7))/f$f"
	done
	git -C "$r" add -A
	git -C "$r" commit -q -m "commit $c"
done
git -C "$r" cat-file --batch-all-objects --batch-check='%(objectname)' \
	> "$work/ids"
git -C "$r" cat-file --batch < "$work/ids" > "$work/want"

# the objects as the store gives them: each git's bytes, or missing
agree() {
	local id rest
	# every object is git's or missing: 25 of them, byte for byte
	"$b3cas" --store "$1" git cat-file --batch-check < "$work/ids" \
		> "$work/check" || fail "cat-file --batch-check of $1"
	while read -r id rest; do
		[[ $rest == missing ]] && continue
		cmp -s <(git -C "$r" cat-file -p "$id" 2>/dev/null; true) \
			<("$b3cas" --store "$1" git cat-file -p "$id") ||
			fail "$1: object $id differs from git's"
	done < <(shuf -n 25 "$work/check")
	# a kill in the middle of the import: not every id readable, and
	# not the same ones as after the kill before (the import's open drops
	# the killed one's lease: what only it held turns GC candidate, which
	# cat-file counts as missing, and the import puts it back; so the
	# count of live objects goes down as well as up, and a kill before
	# the import got to work leaves the state as it was)
	if grep -q ' missing$' "$work/check" &&
		! cmp -s "$work/check" "$work/check-before"; then
		partial=$((partial + 1))
	fi
	cp "$work/check" "$work/check-before"
	return 0
}

# the same repository imported once, without kills, timed: the kills
# fall anywhere in that time (a fixed span of 0.2 s missed the import
# at work in all of 100 kills on a loaded machine, where the import
# starts later)
"$b3cas" --store "$work/once" init --chunking >/dev/null || fail init
t0=$(date +%s%N)
"$b3cas" --store "$work/once" git import -q "$r" || fail "import once"
span=$((($(date +%s%N) - t0) / 1000000 + 1)) # ms

st=$work/store
partial=0 finished=0
: > "$work/check-before"
"$b3cas" --store "$st" init --chunking >/dev/null || fail init
for ((k = 0; k < kills; k++)); do
	"$b3cas" --store "$st" git import -q "$r" >/dev/null 2>&1 &
	pid=$!
	ms=$((SRANDOM % span))
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	fs=$("$b3cas" --store "$st" fsck --json | tail -1)
	problems=$(sed -n 's/.*"problems":\([0-9]*\).*/\1/p' <<<"$fs")
	orphans=$(sed -n 's/.*"orphans":\([0-9]*\).*/\1/p' <<<"$fs")
	staging=$(sed -n 's/.*"staging":\([0-9]*\).*/\1/p' <<<"$fs")
	[[ -n $problems && -n $orphans && -n $staging ]] ||
		fail "fsck after kill $k: $fs"
	((problems == orphans + staging)) || fail "fsck after kill $k: $fs"
	agree "$st"
	# an import the kill came too late for (every object stored): its
	# refs removed, if it got as far as them (else its lease, which gc's
	# open drops, is all that holds them), and the store collected, so
	# that the next kills meet an import at work again (once one has
	# stored everything, the next store nothing new)
	if ! grep -q ' missing$' "$work/check"; then
		"$b3cas" --store "$st" git rm repo >/dev/null 2>&1
		(($? <= 1)) || fail "git rm after kill $k"
		"$b3cas" --store "$st" gc --grace 0 >/dev/null ||
			fail "gc after kill $k"
		left=$("$b3cas" --store "$st" stats |
			awk '/^objects:/ { print $2 }')
		((left == 0)) || fail "after git rm and gc: $left objects left"
		finished=$((finished + 1))
	fi
done
"$b3cas" --store "$st" git import -q "$r" || fail "the last import"
"$b3cas" --store "$st" git cat-file --batch < "$work/ids" |
	cmp -s - "$work/want" || fail "after the last import: objects differ"
"$b3cas" --store "$st" gc --grace 0 >/dev/null || fail gc
# against the store the repository was imported into once
"$b3cas" --store "$work/once" gc --grace 0 >/dev/null || fail gc
a=$("$b3cas" --store "$st" stats | awk '/^objects:|^chunks:/ { print $2 }')
b=$("$b3cas" --store "$work/once" stats | awk '/^objects:|^chunks:/ { print $2 }')
[[ $a == "$b" ]] || fail "objects and chunks after gc: $a, against $b \
imported once"
"$b3cas" --store "$st" git cat-file --batch < "$work/ids" |
	cmp -s - "$work/want" || fail "after gc: objects differ"
# the long form's 100 kills must hit the import at work (7 of 12 did in
# a run by hand; none in 100 would mean the kills come too early or
# late)
[[ -n ${B3CAS_TEST_LONG:-} ]] && ((partial == 0)) &&
	fail "no kill of $kills fell in the middle of an import"
echo "cli_git_crash: $kills kills within ${span} ms ($partial in the" \
	"middle of the import, $finished too late), $(wc -l < "$work/ids")" \
	"objects, ok"
