#!/usr/bin/env bash
# cli_git.sh B3CAS - git objects through the program, against git itself:
# a repository of both object formats (SHA-1 and SHA-256) with files
# edited over several commits, an executable, a symlink, a binary file,
# a submodule's gitlink, an annotated tag and a branch is imported; then
# `b3cas git cat-file --batch` of every object id (full and abbreviated)
# is byte for byte `git cat-file --batch`; -t, -s, -p (trees as ls-tree)
# and -e agree with git's; `git map` gives the b3sum of each object's
# content, and the git id back for it; a file put with `b3cas put` is the
# blob's very object; every object stays after `gc --grace 0` (the refs
# hold them); `git export` makes a bare repository that `git fsck --full
# --strict` accepts, with the same refs, HEAD, log and reachable
# objects; `git rm` of the repository, then gc, leaves no object and no
# mapping; bad input gets exit 2, an unknown id exit 1. A repository
# holding one large blob (B3CAS_GIT_BIG_MIB, default 96 MiB; the
# campaign's long form 1024) is imported and exported in pieces: the
# export's peak memory under the blob's size (GNU time; not under the
# sanitizers), the export fsck clean, the blob one object with the same
# file put by `b3cas put`.
set -uo pipefail
b3cas=${1:?usage: cli_git.sh PATH_TO_B3CAS}
. "$(dirname "$0")/cli_lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work" "$_cli_err"' EXIT
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com \
	GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com \
	GIT_CONFIG_NOSYSTEM=1 HOME=$work

make_repo() { # make_repo DIR FORMAT
	local r=$1 i
	git init -q --object-format="$2" "$r"
	(
		cd "$r" || exit 1
		for ((i = 0; i < 4; i++)); do
			echo "line $i" >> notes.txt
			printf 'x%.0s' $(seq 1 $((i * 300 + 1))) > "f$i"
			head -c $((i * 10000 + 100)) /dev/urandom > "bin$i"
			mkdir -p "d$i/e"
			echo "deep $i" > "d$i/e/file"
			git add -A
			git commit -q -m "commit $i"
		done
		printf '#!/bin/sh\necho hi\n' > run.sh
		chmod +x run.sh
		ln -s notes.txt link
		: > empty
		# the very bytes of the symbolic HEAD, as a blob: the same
		# b3cas object as the HEAD an import names (export must still
		# write HEAD symbolic)
		cp .git/HEAD head-copy
		git add -A
		# a gitlink: a submodule's commit, not in this repository
		git update-index --add --cacheinfo \
			160000,"$(git hash-object --literally -t commit \
			--stdin <<<"x")",sub
		git commit -q -m "more kinds"
		git tag -a v1 -m "release one"
		git checkout -q -b side
		echo side > side.txt
		git add side.txt
		git commit -q -m "side"
		git checkout -q -
	)
}

run() {
	local fmt=$1 r=$work/repo-$1 st=$work/store-$1 ids
	make_repo "$r" "$fmt"
	expect 0 '' '' -- --store "$st" init --chunking
	expect 0 "^git import: .* objects .* 3 refs as git/repo-$fmt/\$" '' \
		-- --store "$st" git import "$r"
	git -C "$r" cat-file --batch-all-objects --batch-check='%(objectname)' \
		> "$work/ids"
	ids=$(wc -l < "$work/ids")
	check "$fmt: the repository has a gitlink" \
		test -n "$(git -C "$r" ls-tree HEAD sub)"
	check "$fmt: objects to check ($ids)" test "$ids" -ge 30
	# every object as git gives it
	check "$fmt: cat-file --batch" cmp -s \
		<(git -C "$r" cat-file --batch < "$work/ids") \
		<("$b3cas" --store "$st" git cat-file --batch < "$work/ids")
	check "$fmt: cat-file --batch-check" cmp -s \
		<(git -C "$r" cat-file --batch-check < "$work/ids") \
		<("$b3cas" --store "$st" git cat-file --batch-check < "$work/ids")
	# ids that are not there, mixed in, and many lines (the pipeline's
	# ring of 8 blocks of 256 wraps several times): missing as git says
	{ for ((i = 0; i < 120; i++)); do cat "$work/ids"
		printf '%s\n' "$(printf '0%.0s' $(seq 1 40))" 0000000000ff; done
	} > "$work/ids-mixed"
	check "$fmt: cat-file --batch, missing ids mixed in" cmp -s \
		<(git -C "$r" cat-file --batch < "$work/ids-mixed") \
		<("$b3cas" --store "$st" git cat-file --batch < "$work/ids-mixed")
	# asked one id at a time, each answer awaited before the next is
	# sent (as a program holding git cat-file --batch open does)
	local answered=0 line
	coproc B3BATCH { "$b3cas" --store "$st" git cat-file --batch-check; }
	while read -r id; do
		echo "$id" >&"${B3BATCH[1]}"
		read -t 10 -r line <&"${B3BATCH[0]}" || break
		[[ $line == "$(git -C "$r" cat-file --batch-check <<<"$id")" ]] &&
			answered=$((answered + 1))
	done < <(head -5 "$work/ids"; echo 0000000000ff)
	exec {B3BATCH[1]}>&-
	wait "$B3BATCH_PID" 2>/dev/null
	check "$fmt: --batch-check one id at a time (answered $answered)" \
		test "$answered" = 6
	# abbreviated: the first 12 hex digits
	check "$fmt: abbreviated ids" cmp -s \
		<(git -C "$r" cat-file --batch < "$work/ids") \
		<(cut -c1-12 "$work/ids" |
			"$b3cas" --store "$st" git cat-file --batch)
	# -t -s -p per object, and map both ways against b3sum: the first
	# B3CAS_GIT_EACH ids (40; 8 under the sanitizers: five processes an
	# id, 0.3 s each there; --batch above covers them all) and the first
	# of each type
	local id type bad=0 each
	{
		git -C "$r" cat-file --batch-all-objects \
			--batch-check='%(objectname) %(objecttype)' |
			awk '!first[$2]++ {print $1}'
		head -"${B3CAS_GIT_EACH:-40}" "$work/ids"
	} | awk '!seen[$0]++' > "$work/ids-each"
	each=$(wc -l < "$work/ids-each")
	while read -r id; do
		type=$(git -C "$r" cat-file -t "$id")
		[[ $("$b3cas" --store "$st" git cat-file -t "$id") == "$type" ]] ||
			bad=$((bad + 1))
		[[ $("$b3cas" --store "$st" git cat-file -s "$id") == \
			$(git -C "$r" cat-file -s "$id") ]] || bad=$((bad + 1))
		cmp -s <("$b3cas" --store "$st" git cat-file -p "$id") \
			<(git -C "$r" cat-file -p "$id") || bad=$((bad + 1))
		local b3 want
		b3=$("$b3cas" --store "$st" git map "$id" | cut -d' ' -f1)
		want=$(git -C "$r" cat-file "$type" "$id" | b3sum --no-names)
		[[ $b3 == "$want" ]] || bad=$((bad + 1))
		[[ $("$b3cas" --store "$st" git map "$b3" | cut -d' ' -f1) == \
			"$id" ]] || bad=$((bad + 1))
	done < "$work/ids-each"
	check "$fmt: -t -s -p and map of $each objects ($bad differ)" \
		test "$bad" = 0
	# the same bytes put another way are the blob's object
	local blob put
	blob=$(git -C "$r" rev-parse HEAD:bin3)
	expect 0 '^[0-9a-f]{64}$' '' -- --store "$st" put --no-names "$r/bin3"
	put=$out
	expect 0 "^$put blob " '' -- --store "$st" git map "$blob"
	expect 0 '' '' -- --store "$st" rm "$put"
	# the refs hold every object (all reachable here) through gc
	expect 0 '' '' -- --store "$st" gc --grace 0
	check "$fmt: after gc" cmp -s \
		<(git -C "$r" cat-file --batch < "$work/ids") \
		<("$b3cas" --store "$st" git cat-file --batch < "$work/ids")
	expect 0 ' 0 problems$' '' -- --store "$st" fsck
	# export: a bare repository git accepts, with the same refs, HEAD,
	# history and reachable objects
	local ex=$work/export-$fmt.git
	expect 0 "^git export: .* 3 refs from git/repo-$fmt/\$" '' -- \
		--store "$st" git export "$ex"
	git_same_repo "$fmt: the export" "$r" "$ex"
	expect 2 '' 'not an empty folder' -- --store "$st" git export "$ex"
	expect 1 '' 'no repository' -- --store "$st" git export --name nope \
		"$work/nope-$fmt"
	# a second import stores nothing new; on a terminal it shows its
	# progress, with -q nothing
	expect 0 "^git import: " '' -- --store "$st" git import "$r"
	local tty
	tty=$(script -qec "'$b3cas' --store '$st' git import '$r'" /dev/null)
	check "$fmt: import progress on a terminal" \
		grep -q 'git import: objects: .*100% .* objects' <<<"$tty"
	tty=$(script -qec "'$b3cas' --store '$st' git import -q '$r'" /dev/null)
	check "$fmt: no progress with -q" test -z "$tty"
	# removing the repository's refs lets gc free all of it, mappings too
	cp -a "$st" "$st-rm"
	expect 0 "^git rm: 4 refs of repo-$fmt removed" '' -- --store "$st-rm" \
		git rm "repo-$fmt"
	expect 0 '' '' -- --store "$st-rm" gc --grace 0
	expect 0 '^objects: +0 ' '' -- --store "$st-rm" stats
	expect 1 '' '' -- --store "$st-rm" git cat-file -e "$blob"
	check "$fmt: nothing left after rm and gc" test -z \
		"$("$b3cas" --store "$st-rm" git cat-file --batch-check \
		< "$work/ids" | grep -v ' missing$')"
	expect 1 '' 'no repository' -- --store "$st-rm" git rm "repo-$fmt"
	expect 2 '' "no '/'" -- --store "$st-rm" git rm a/b
	# bad input
	local len=40
	[[ $fmt == sha256 ]] && len=64
	expect 1 '' 'not' -- --store "$st" git cat-file -t \
		"$(printf '1%.0s' $(seq 1 $len))"
	expect 1 '' '' -- --store "$st" git cat-file -e \
		"$(printf '2%.0s' $(seq 1 40))"
	expect 0 '' '' -- --store "$st" git cat-file -e "$blob"
	expect 2 '' 'abbreviated' -- --store "$st" git map abc
	expect 2 '' 'one of' -- --store "$st" git cat-file "$blob"
	expect 2 '' 'not a git repository' -- --store "$st" git import \
		"$work/nothing"
}

big_blob() {
	local mib=${B3CAS_GIT_BIG_MIB:-96} r=$work/big st=$work/store-big
	local ex=$work/big-export.git rss blob put objects
	((${B3CAS_TEST_LONG:-0})) && mib=${B3CAS_GIT_BIG_MIB:-1024}
	git init -q "$r"
	seq 1 400000000 | head -c $((mib << 20)) > "$r/big.txt"
	git -C "$r" add big.txt
	git -C "$r" commit -q -m "$mib MiB"
	expect 0 '' '' -- --store "$st" init --chunking --compress
	# (import's peak memory is test_git_stream's: GNU time would count
	# git cat-file's with it)
	expect 0 '' '' -- --store "$st" git import -q "$r"
	check "big: export" /usr/bin/time -f %M -o "$work/rss" \
		"$b3cas" --store "$st" git export -q "$ex"
	rss=$(tail -n 1 "$work/rss")
	echo "big: export of a $mib MiB blob: peak RSS $rss KiB"
	# B3CAS_GIT_RSS_BOUND=0 (the sanitizer builds, whose RSS is the
	# sanitizer's) leaves the bound out
	if [[ ${B3CAS_GIT_RSS_BOUND:-1} != 0 ]]; then
		check "big: export of a $mib MiB blob in $rss KiB (under the blob's size)" \
			test "$rss" -lt $((mib << 10))
	fi
	check "big: git fsck --full --strict of the export" \
		git -C "$ex" fsck --full --strict --no-dangling
	check "big: the same commit" test "$(git -C "$r" rev-parse HEAD)" = \
		"$(git -C "$ex" rev-parse HEAD)"
	# cat-file --batch streams it (more than its pipeline holds)
	git -C "$r" rev-list --objects --all | cut -d' ' -f1 > "$work/big-ids"
	check "big: cat-file --batch" cmp -s \
		<(git -C "$r" cat-file --batch < "$work/big-ids") \
		<("$b3cas" --store "$st" git cat-file --batch < "$work/big-ids")
	# the file put with b3cas put: the blob's object, nothing stored
	blob=$(git -C "$r" rev-parse HEAD:big.txt)
	expect 0 '' '' -- --store "$st" stats
	objects=$(grep -E '^objects:' <<<"$out")
	expect 0 '^[0-9a-f]{64}$' '' -- --store "$st" put --no-names "$r/big.txt"
	put=$out
	expect 0 "^$put blob $((mib << 20))\$" '' -- --store "$st" git map "$blob"
	expect 0 '' '' -- --store "$st" stats
	check "big: b3cas put stored nothing new" test \
		"$(grep -E '^objects:' <<<"$out")" = "$objects"
	rm -rf "$r" "$st" "$ex"
}

# cat-file --batch of objects that fill its blocks' 8 MiB many times over
# (each under it): a worker whose block is full waits for the writer to
# write out what it holds, and the writer, waiting for a run of 32 small
# ones, writes those done instead (a deadlock before that, found by
# hand). Large and small ids in turns; a plain store and a packed one.
full_blocks() {
	local r=$work/blocks.git st ids=$work/blocks-ids i j bytes
	git init -q "$r"
	for ((i = 0; i < 16; i++)); do
		seq $((i * 1000000)) 400000000 | head -c $(((i % 4 + 1) << 20)) \
			> "$r/large$i.txt"
		for ((j = 0; j < 3; j++)); do echo "small $i $j" > "$r/s$i-$j"; done
	done
	git -C "$r" add . && git -C "$r" commit -q -m blocks
	{
		git -C "$r" rev-parse HEAD HEAD^{tree}
		git -C "$r" ls-tree HEAD | awk '$4 !~ /^large/ {print $3}'
	} > "$work/blocks-small"
	: > "$ids"
	for ((i = 0; i < 4; i++)); do
		git -C "$r" ls-tree HEAD | awk '$4 ~ /^large/ {print $3}' |
			while read -r l; do
				echo "$l"
				shuf -n 5 -r --random-source=<(yes) "$work/blocks-small"
			done >> "$ids"
	done
	for st in "$work/blocks-plain" "$work/blocks-packed"; do
		if [[ $st == *packed ]]; then
			expect 0 '' '' -- --store "$st" init --chunking --compress
		else
			expect 0 '' '' -- --store "$st" init
		fi
		expect 0 '' '' -- --store "$st" git import -q "$r"
		bytes=$(git -C "$r" cat-file --batch < "$ids" | wc -c)
		check "${st##*-}: cat-file --batch of $(wc -l < "$ids") ids, $bytes bytes, blocks full" \
			cmp -s <(git -C "$r" cat-file --batch < "$ids") \
			<(timeout 120 "$b3cas" --store "$st" git cat-file --batch < "$ids")
		# its reader gone early (SIGPIPE ignored, as a program that
		# runs it may): the writer stops, the workers waiting for it
		# too, and the exit says why
		(
			trap '' PIPE
			timeout 120 "$b3cas" --store "$st" git cat-file --batch \
				< "$ids" 2> "$work/epipe" | head -c 100000 > /dev/null
			echo "${PIPESTATUS[0]}" > "$work/epipe-rc"
		)
		check "${st##*-}: cat-file --batch into a closed pipe exits 2" \
			test "$(cat "$work/epipe-rc")" = 2
		check "${st##*-}: ... saying why" \
			grep -q 'cannot write to standard output' "$work/epipe"
		rm -rf "$st"
	done
	rm -rf "$r"
}

run sha1
run sha256
full_blocks
big_blob
expect 2 '' 'unknown subcommand' -- git frob
cli_summary
