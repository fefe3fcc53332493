#!/usr/bin/env bash
# cli_git_clone.sh B3CAS - `b3cas git clone` (which runs b3cas-git, beside
# B3CAS) against git's own clone of the same repository: a repository
# with several commits, a branch, an annotated tag, a symlink, an
# executable, a binary file of 3 MB and two files with the same bytes.
# The clone's working tree is git clone's (bytes, modes, links); its
# folder has no object files and its config names the store; its export
# passes `git fsck --full --strict` with git clone's refs, HEAD and
# history; everything stays through `gc --grace 0` (the names and the
# links of trees and commits hold it); a file put by `b3cas put` is the
# blob's object. A bare clone by file:// URL and one of a branch; a clone
# of a repository missing an object fails with no names, no folder and,
# after gc, no objects left; bad input gets exit 2, a missing b3cas-git
# exit 3; `git rm` of every clone, then gc, leaves nothing.
set -uo pipefail
b3cas=${1:?usage: cli_git_clone.sh PATH_TO_B3CAS}
. "$(dirname "$0")/cli_lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work" "$_cli_err"' EXIT
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com \
	GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com \
	GIT_CONFIG_NOSYSTEM=1 HOME=$work
st=$work/store src=$work/src

git init -q -b main "$src"
(
	cd "$src" || exit 1
	mkdir -p d/e
	echo one > a
	printf 'same bytes\n' > d/same1
	printf 'same bytes\n' > d/e/same2
	head -c 3000000 /dev/urandom > d/bin
	printf '#!/bin/sh\necho hi\n' > run.sh
	chmod +x run.sh
	ln -s d/same1 link
	git add -A && git commit -q -m first
	echo two >> a && git commit -q -am second
	git tag -a v1 -m 'tag one'
	git checkout -q -b side
	echo side > s && git add s && git commit -q -m side
	git checkout -q main
	echo three >> a && dd if=/dev/urandom of=d/bin bs=1 count=100 \
		seek=1000 conv=notrunc 2>/dev/null
	git commit -q -am third
)
git clone -q "$src" "$work/ref"

# a working tree as a list: type, mode, size, link target, content hash
tree_of() {
	(cd "$1" && find . -path ./.git -prune -o -printf '%y %m %s %l %p\n' |
		sort && find . -path ./.git -prune -o -type f -print0 |
		sort -z | xargs -0 b3sum)
}

expect 0 '' '' -- --store "$st" init --chunking
expect 0 "^git clone: .* into .*/dst: [0-9]+ objects, 4 refs as git/dst/" \
	'' -- --store "$st" git clone "$src" "$work/dst"
check "the working tree is git clone's" cmp -s <(tree_of "$work/ref") \
	<(tree_of "$work/dst")
check "no object files in the clone" test -z \
	"$(find "$work/dst/.git/objects" -type f)"
check "the clone's config names the store" test \
	"$(git -C "$work/dst" config b3cas.store)" = "$(realpath "$st")"
check "the clone's config names the repository" test \
	"$(git -C "$work/dst" config b3cas.name)" = dst
check "the clone's refs are git clone's" cmp -s \
	<(git -C "$work/ref" for-each-ref --format='%(objectname) %(refname)') \
	<(git -C "$work/dst" for-each-ref --format='%(objectname) %(refname)')

# export: git's own files, as git clone made them
exported() { # exported NAME DEST REF: DEST exported, checked against REF
	local name=$1 ex=$2 ref=$3
	rm -rf "$ex"
	expect 0 "^git export: " '' -- --store "$st" git export --name "$name" \
		"$ex"
	git_same_repo "$name: the export" "$ref" "$ex"
}
exported dst "$work/ex1" "$work/ref"

# the names and links hold everything through gc
expect 0 '' '' -- --store "$st" stats
objects=$(grep -E '^objects:' <<<"$out")
expect 0 '' '' -- --store "$st" gc --grace 0
expect 0 '' '' -- --store "$st" stats
check "gc freed nothing ($objects)" test \
	"$(grep -E '^objects:' <<<"$out")" = "$objects"
exported dst "$work/ex2" "$work/ref"
expect 0 ' 0 problems$' '' -- --store "$st" fsck
# the same bytes put another way are the blob's object
blob=$(git -C "$src" rev-parse HEAD:d/bin)
expect 0 '^[0-9a-f]{64}$' '' -- --store "$st" put --no-names "$src/d/bin"
put=$out
expect 0 "^$put blob " '' -- --store "$st" git map "$blob"
expect 0 '' '' -- --store "$st" rm "$put"
expect 0 '' '' -- --store "$st" stats
check "b3cas put stored nothing new" test \
	"$(grep -E '^objects:' <<<"$out")" = "$objects"

# bare, by URL; a branch
git clone -q --bare "$src" "$work/ref-bare.git"
expect 0 '' '' -- --store "$st" git clone --bare -q \
	--name bare "file://$src" "$work/bare.git"
check "-q prints nothing" test -z "$out"
check "a bare clone: no working tree" test ! -e "$work/bare.git/a"
exported bare "$work/ex3" "$work/ref-bare.git"
# --wait passed on to b3cas-git: plain (forever) and a duration
expect 0 '' '' -- --store "$st" --wait git clone -q -b side "$src" \
	"$work/side"
check "-b side: HEAD" test "$(git -C "$work/side" symbolic-ref HEAD)" = \
	refs/heads/side
check "-b side: its file" test "$(cat "$work/side/s")" = side

# a repository missing an object: the clone fails, leaving nothing
cp -a "$src" "$work/broken"
git -C "$work/broken" repack -q -a -d
mv "$work/broken"/.git/objects/pack/*.pack "$work/all.pack"
rm -f "$work/broken"/.git/objects/pack/*
git -C "$work/broken" unpack-objects -q < "$work/all.pack"
side=$(git -C "$work/broken" rev-parse side:s)
rm -f "$work/broken/.git/objects/${side:0:2}/${side:2}"
# (a new store: the clone fetches nothing a store has already)
expect 0 '' '' -- --store "$work/store-broken" init --chunking
expect 3 '' 'git clone: ' -- --store "$work/store-broken" git clone \
	"$work/broken" "$work/b-dst"
check "a failed clone leaves no folder" test ! -e "$work/b-dst"
expect 1 '' '' -- --store "$work/store-broken" git export --name b-dst \
	"$work/b-ex"
expect 0 '' '' -- --store "$work/store-broken" gc --grace 0
expect 0 '' '' -- --store "$work/store-broken" stats
check "a failed clone leaves no objects after gc" \
	grep -qE '^objects: +0 ' <<<"$out"

expect 0 '' '' -- --store "$st" --wait=2s git clone -q --name waited \
	"$src" "$work/waited"
expect 0 '^git rm: ' '' -- --store "$st" git rm waited
# bad input
mkdir -p "$work/full" && touch "$work/full/x"
expect 2 '' 'not an empty folder' -- --store "$st" git clone "$src" \
	"$work/full"
expect 2 '' 'not a repository' -- --store "$st" git clone "$work/none" \
	"$work/d2"
expect 2 '' "already" -- --store "$st" git clone "$src" "$work/d3/dst"
check "a refused clone makes no folder" test ! -e "$work/d3"
expect 2 '' "without '/'" -- --store "$st" git clone --name a/b "$src" \
	"$work/d4"
expect 2 '' 'expected' -- --store "$st" git clone "$src"
git init -q --object-format=sha256 "$work/r256"
expect 2 '' 'not a repository libgit2 can read' -- --store "$st" \
	git clone "$work/r256" "$work/d5"
mkdir -p "$work/alone"
cp "$b3cas" "$work/alone/b3cas"
out=$(PATH=/usr/bin:/bin "$work/alone/b3cas" --store "$st" git clone \
	"$src" "$work/d6" 2>&1) && rc=0 || rc=$?
check "no b3cas-git: exit 3 ($rc)" test "$rc" = 3
check "no b3cas-git: said so" grep -q 'cannot run b3cas-git' <<<"$out"

# every clone's refs removed: gc frees everything
for n in dst bare side; do
	expect 0 "^git rm: " '' -- --store "$st" git rm "$n"
done
expect 0 '' '' -- --store "$st" gc --grace 0
expect 0 '^objects: +0 ' '' -- --store "$st" stats
cli_summary
