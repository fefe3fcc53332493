#!/usr/bin/env bash
# git_compare.sh - issue 18's benchmark: b3cas's git bridge against git
# itself on the same repositories, in one run.
#
# Usage: bench/git_compare.sh [--commits N] [--big MIB] [--repo DIR]...
#            [--quick] [--work DIR] [--no-lookups] BUILD
#   BUILD         a build folder holding b3cas and bench/bench_git_map
#   --commits N   commits of the synthetic repository (default 3300: about
#                 106,000 objects)
#   --big MIB     a blob of MIB MiB of random bytes in its last commit
#                 (default 128; 0 for none)
#   --repo DIR    a repository of one's own to compare too (any number)
#   --quick       300 commits and a 16 MiB blob (to try the script)
#   --work DIR    where everything goes (default $TMPDIR/b3cas-git-compare,
#                 else /tmp/b3cas-git-compare; emptied first if an
#                 earlier run made it, else it must be empty)
#   --no-lookups  skip bench_git_map (1,000,000 mapped objects: about
#                 2 minutes)
#
# The synthetic repository is written by `git fast-import` from a stream
# that awk makes: 100 folders of 40 texts each (lines of words from a
# fixed list, 1-4 KiB), then commits that each rewrite 15 texts (a few
# lines changed, some added), every 50th adding a folder of 10 texts and
# every 100th an annotated tag, on two branches merged every 200
# commits; `git repack -a -d` then packs it as git would.
#
# For each repository, all timed with GNU time (wall, user+sys CPU, peak
# RSS), each one run (but cat-file), in this order:
#   git index-pack    `git index-pack --stdin` of its pack into a new
#                     repository (git clone's work on receiving)
#   git unpack-objects `git unpack-objects` of the same pack (loose)
#   b3cas git import  into a new store (`b3cas init`: default options)
#   git cat-file      `git cat-file --batch` of every object id
#                     (--batch-all-objects order) from the packed repo
#   b3cas cat-file    `b3cas git cat-file --batch` of the same ids; the
#                     two outputs are compared byte for byte (these two
#                     run 5 times each, in turn; the median run is shown)
# then the round trip: `b3cas git export` of what was imported, `git fsck
# --full --strict` of it, and its refs, HEAD, `git log --all` and the set
# of reachable objects against the source's; the bytes stored: the
# store's folder (du, right after the import, and after `b3cas gc
# --compact`) against the repository's pack and index.
# Last, bench_git_map: lookups by SHA-1 and by prefix in a store of
# 1,000,000 mapped objects, in microseconds.
set -euo pipefail

commits=3300 big=128 quick=0 lookups=1 work= repos=()
while (($#)); do
	case $1 in
	--commits) commits=$2; shift 2 ;;
	--big) big=$2; shift 2 ;;
	--repo) repos+=("$(realpath "$2")"); shift 2 ;;
	--quick) quick=1; shift ;;
	--work) work=$2; shift 2 ;;
	--no-lookups) lookups=0; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0 ;;
	-*) echo "git_compare.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
build=${1:?usage: bench/git_compare.sh [options] BUILD (--help)}
build=$(realpath "$build")
b3cas=$build/b3cas
if ((quick)); then commits=300; big=16; fi
for tool in git awk /usr/bin/time; do
	command -v "$tool" >/dev/null || {
		echo "git_compare.sh: $tool is missing (apt-get install git" \
			"gawk time)" >&2
		exit 2
	}
done
[[ -x $b3cas ]] || { echo "git_compare.sh: no $b3cas" >&2; exit 2; }
work=${work:-${TMPDIR:-/tmp}/b3cas-git-compare}
if [[ -e $work/.git-compare ]]; then
	rm -rf "$work"
elif [[ -e $work && -n $(ls -A "$work") ]]; then
	echo "git_compare.sh: $work is not empty" >&2
	exit 2
fi
mkdir -p "$work"
touch "$work/.git-compare"
work=$(realpath "$work")
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com \
	GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com \
	GIT_CONFIG_NOSYSTEM=1

# ---- the synthetic repository ----------------------------------------------

# The fast-import stream of the synthetic repository.
stream() {
	LC_ALL=C awk -v commits="$commits" -v big="$big" -v bigfile="$work/big.bin" '
	function rnd(n) { return int(rand() * n) }
	function text(   n, i, j, s, line) {
		n = 20 + rnd(60); s = ""
		for (i = 0; i < n; i++) {
			line = ""
			for (j = 0; j < 3 + rnd(9); j++)
				line = line " " words[rnd(nw)]
			s = s rnd(1000) line "\n"
		}
		return s
	}
	function blob(path, data) {
		mark++
		printf "blob\nmark :%d\ndata %d\n%s\n", mark, length(data), data
		content[path] = data
		return mark
	}
	function edit(path,   data, n, lines, k, i, out) {
		data = content[path]
		n = split(data, lines, "\n")
		out = ""
		for (i = 1; i < n; i++) {
			if (rnd(12) == 0)
				out = out rnd(1000) " " words[rnd(nw)] " " \
				      words[rnd(nw)] "\n"
			else
				out = out lines[i] "\n"
			if (rnd(30) == 0)
				out = out rnd(1000) " added " words[rnd(nw)] "\n"
		}
		return out
	}
	BEGIN {
		srand(1)
		nw = split("alpha beta gamma delta store chunk object tree " \
			   "commit index read write hash blake3 sha1 pack " \
			   "delta zstd cache lease name ref link gc fsck " \
			   "return int size_t const struct static void if " \
			   "else for while break uint8_t uint64_t memcpy " \
			   "malloc free error rc len buf data path", words, " ")
		nfiles = 0
		for (d = 0; d < 100; d++)
			for (f = 0; f < 40; f++)
				files[nfiles++] = sprintf("d%02d/f%02d.c", d, f)
		t = 1600000000
		# the first commit: every file
		printf "commit refs/heads/main\nmark :%d\n", ++mark
		first = mark
		printf "committer bench <bench@example.com> %d +0000\n", t
		printf "data 5\nfirst\n"
		for (i = 0; i < nfiles; i++) {
			data = text()
			printf "M 100644 inline %s\ndata %d\n%s\n", files[i],
			       length(data), data
			content[files[i]] = data
		}
		last["main"] = mark; last["side"] = mark
		for (c = 1; c < commits; c++) {
			br = (c % 7 == 3) ? "side" : "main"
			t += 600
			for (k = 0; k < 15; k++) {
				p = files[rnd(nfiles)]
				m[k] = blob(p, edit(p)); mp[k] = p
			}
			printf "commit refs/heads/%s\nmark :%d\n", br, ++mark
			printf "committer bench <bench@example.com> %d +0000\n", t
			msg = sprintf("commit %d on %s", c, br)
			printf "data %d\n%s\n", length(msg), msg
			printf "from :%d\n", last[br]
			if (br == "main" && c % 200 == 0)
				printf "merge :%d\n", last["side"]
			for (k = 0; k < 15; k++)
				printf "M 100644 :%d %s\n", m[k], mp[k]
			if (c % 50 == 0)
				for (f = 0; f < 10; f++) {
					p = sprintf("n%04d/f%d.c", c, f)
					data = text()
					printf "M 100644 inline %s\ndata %d\n%s\n",
					       p, length(data), data
					content[p] = data
					files[nfiles++] = p
				}
			last[br] = mark
			if (c % 100 == 0) {
				printf "tag v%d\nfrom :%d\n", c, mark
				printf "tagger bench <bench@example.com> %d +0000\n", t
				printf "data 8\nrelease\n"
			}
		}
		if (big > 0) {
			printf "commit refs/heads/main\nmark :%d\n", ++mark
			printf "committer bench <bench@example.com> %d +0000\n", t + 600
			printf "data 3\nbig\nfrom :%d\n", last["main"]
			printf "M 100644 inline big.bin\ndata %d\n", big * 1048576
			fflush()
			system("cat \"" bigfile "\"")
			printf "\n"
		}
	}'
}

synthetic() {
	local r=$work/synthetic.git
	if ((big > 0)); then
		head -c $((big << 20)) /dev/urandom > "$work/big.bin"
	fi
	git init -q --bare -b main "$r"
	stream | git -C "$r" fast-import --quiet
	git -C "$r" symbolic-ref HEAD refs/heads/main
	git -C "$r" repack -q -a -d
	rm -f "$work/big.bin"
	echo "$r"
}

# ---- timing -------------------------------------------------------------------

# timed NAME CMD...: run, append "NAME wall cpu rss_mb" to $work/times
timed() {
	local name=$1 f=$work/time.out
	shift
	/usr/bin/time -f '%e %U %S %M' -o "$f" "$@"
	read -r wall user sys rss < "$f"
	echo "$name $wall $(awk -v u="$user" -v s="$sys" \
		'BEGIN { printf "%.2f", u + s }') $((rss / 1024))" >> "$work/times"
}

median() { # median NAME: NAME-1..5's run of median wall, as NAME
	grep "^$1-[0-9] " "$work/times" | sort -k2n | sed -n 3p |
		sed "s/^$1-[0-9]/$1/" >> "$work/times"
}

row() { # row NAME: "wall s (cpu s, rss MB)"
	awk -v n="$1" '$1 == n { printf "%s s (CPU %s s, %s MB)", $2, $3, $4 }' \
		"$work/times"
}

wall_of() { awk -v n="$1" '$1 == n { print $2 }' "$work/times"; }

rate() { # rate OBJECTS NAME: objects per second
	awk -v o="$1" -v w="$(wall_of "$2")" \
		'BEGIN { printf "%.0f", (w > 0) ? o / w : 0 }'
}

mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }

# ---- one repository ---------------------------------------------------------

compare() {
	local src=$1 tag=$2 d=$work/$2 pack ids objects packed stored
	mkdir -p "$d"
	: > "$work/times"
	git -C "$src" cat-file --batch-all-objects --batch-check='%(objectname)' \
		> "$d/ids"
	objects=$(wc -l < "$d/ids")
	# one pack of everything, for index-pack and unpack-objects
	git -C "$src" pack-objects -q --all --stdout < /dev/null \
		> "$d/all.pack" 2>/dev/null ||
		git -C "$src" rev-list --objects --all |
		git -C "$src" pack-objects -q --stdout > "$d/all.pack"
	packed=$(du -cb "$src"/objects/pack/*.{pack,idx} 2>/dev/null |
		tail -1 | cut -f1)
	[[ -d $src/.git ]] && packed=$(du -cb \
		"$src"/.git/objects/pack/*.{pack,idx} | tail -1 | cut -f1)
	git init -q --bare "$d/ip.git"
	timed git-index-pack bash -c "git -C '$d/ip.git' index-pack --stdin \
		< '$d/all.pack' > /dev/null"
	git init -q --bare "$d/up.git"
	timed git-unpack-objects bash -c "git -C '$d/up.git' unpack-objects -q \
		< '$d/all.pack'"
	rm -rf "$d/ip.git" "$d/up.git"
	"$b3cas" --store "$d/store" init > /dev/null
	timed b3cas-import "$b3cas" --store "$d/store" git import -q \
		--name r "$src"
	stored=$(du -sb "$d/store" | cut -f1)
	# cat-file: 5 runs each, in turn, the median kept (the first ones
	# read a cold page cache)
	local i
	for i in 1 2 3 4 5; do
		timed "git-cat-file-$i" bash -c "git -C '$src' cat-file \
			--batch < '$d/ids' > '$d/git.out'"
		timed "b3cas-cat-file-$i" bash -c "'$b3cas' --store \
			'$d/store' git cat-file --batch < '$d/ids' > '$d/b3.out'"
	done
	median git-cat-file
	median b3cas-cat-file
	local same=identical
	cmp -s "$d/git.out" "$d/b3.out" || same=DIFFERENT
	local out_bytes
	out_bytes=$(stat -c %s "$d/git.out")
	rm -f "$d/git.out" "$d/b3.out"
	# the round trip
	timed b3cas-export "$b3cas" --store "$d/store" git export -q \
		--name r "$d/export.git"
	local fsck=clean refs=same log=same reach=same
	git -C "$d/export.git" fsck --full --strict --no-dangling \
		> /dev/null 2>&1 || fsck=FAILED
	cmp -s <(git -C "$src" for-each-ref) \
		<(git -C "$d/export.git" for-each-ref) || refs=DIFFERENT
	cmp -s <(git -C "$src" log --all --format='%H %P %T %s') \
		<(git -C "$d/export.git" log --all --format='%H %P %T %s') ||
		log=DIFFERENT
	cmp -s <(git -C "$src" rev-list --objects --all | sort) \
		<(git -C "$d/export.git" rev-list --objects --all | sort) ||
		reach=DIFFERENT
	rm -rf "$d/export.git"
	local compacted=
	if "$b3cas" --store "$d/store" gc --compact > /dev/null 2>&1; then
		compacted=$(du -sb "$d/store" | cut -f1)
	fi
	{
		echo
		echo "### $tag: $src"
		echo
		echo "$objects objects; pack and index $(mb "$packed") MB;" \
			"--batch output $(mb "$out_bytes") MB"
		echo
		echo "| step | wall (CPU, peak RSS) | objects/s |"
		echo "|---|---|---|"
		for n in git-index-pack git-unpack-objects b3cas-import \
			git-cat-file b3cas-cat-file b3cas-export; do
			echo "| $n | $(row "$n") | $(rate "$objects" "$n") |"
		done
		echo
		echo "- cat-file --batch outputs: $same"
		echo "- export: git fsck --full --strict $fsck; refs $refs;" \
			"log --all $log; reachable objects $reach"
		echo "- stored: $(mb "$stored") MB after the import" \
			"${compacted:+($(mb "$compacted") MB compacted) }against" \
			"$(mb "$packed") MB of pack and index"
		awk -v b="$(wall_of b3cas-cat-file)" -v g="$(wall_of git-cat-file)" \
			-v i="$(wall_of b3cas-import)" \
			-v x="$(wall_of git-index-pack)" 'BEGIN {
			printf "- ratios: cat-file --batch b3cas/git %.2f; " \
			       "import/index-pack %.2f\n", b / g, i / x }'
	} | tee -a "$work/report.md"
	rm -rf "$d/store" "$d/all.pack"
}

{
	echo "# git_compare.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), load" \
		"$(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "$(git --version); $("$b3cas" --version)"
} | tee "$work/report.md"
syn=$(synthetic)
compare "$syn" synthetic
for r in "${repos[@]}"; do
	compare "$r" "$(basename "$r")"
done
if ((lookups)) && [[ -x $build/bench/bench_git_map ]]; then
	{
		echo
		echo "### lookups (bench_git_map)"
		echo
		"$build/bench/bench_git_map" --dir "$work"
	} | tee -a "$work/report.md"
fi
echo
echo "report: $work/report.md"
