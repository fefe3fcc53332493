#!/usr/bin/env bash
# compare_stores.sh - the yardstick of issue 16: ingest every snapshot of
# the sandbox corpus (bench/sandbox_corpus.sh), in name order, into b3cas
# and into borg, restic and casync, and print one table of what each
# stored and what it cost, all measured in the same run.
#
# Usage: bench/compare_stores.sh [--out DIR] [--tools LIST] [--keep]
#                                CORPUS BUILD
#   CORPUS  the corpus's WORK folder (or its snapshots/ folder)
#   BUILD   a b3cas build folder holding the b3cas program
#   --out DIR    where the repositories go (default /tmp/b3cas-compare;
#                emptied first if an earlier run made it, else must be
#                empty). Not inside the source tree.
#   --tools LIST comma-separated settings to run, in this order (default
#                all): borg8k, borg64k, casync16k, casync64k, restic, b3cas,
#                b3cas-c4k (and any other b3cas-cNk[-zL|-raw] named)
#   --keep       keep each repository (default: removed once measured)
#
# Settings:
#   borg8k     borg 1.2, buzhash 8 KiB average (--chunker-params
#              buzhash,10,23,13,4095), --compression zstd,3, no encryption
#   borg64k    the same with a 64 KiB average (buzhash,14,23,16,4095)
#   casync16k  casync make of each snapshot into one shared --store,
#              --chunk-size=16384 (min/max its defaults: avg/4, avg*4)
#   casync64k  the same with casync's default 64 KiB average
#   restic     restic 0.14 defaults: 1 MiB average chunks, repository
#              format 2 (0.14's default) so compression "auto" (zstd)
#   b3cas      b3cas --store DIR put of every regular file of a snapshot,
#              one run per snapshot (`put --files0-from LIST`, the list
#              made by find -print0, in name order; B3CAS_PUT_XARGS=1:
#              through xargs
#              instead, a run per 128 KiB of names as before 2026-12-04)
#              (b3cas stores file contents only: no folders, links or
#              metadata; put stores on one thread per CPU, its default;
#              B3CAS_PUT_THREADS=N sets --threads N) into a store made by
#              plain `b3cas init`:
#              whole-object dedup, no compression (format 1)
#   b3cas-cNk  the same into a chunking store: `b3cas init --chunk-avg
#              N*1024 --compress` (FastCDC chunks of N/4..4N KiB, packed
#              and compressed 64 KiB at a time, zstd at init's default
#              level); b3cas-cNk-zL: `--compress-level L`; b3cas-cNk-raw:
#              no compression; b3cas-cNk-frames (or -frames-zL): a zstd
#              frame per chunk (`--no-pack`, as before 2026-12-04). Any N
#              from 1 to 64.
#
# Figures, per setting, over all snapshots:
#   stored     du -sb of the repository after the last snapshot: data,
#              indexes, manifests, everything the tool keeps in it (borg's
#              and restic's local caches are kept apart, under DIR, and
#              not counted: they can be rebuilt from the repository)
#   not stored 1 - stored / logical, logical being the sizes of the
#              corpus's regular files
#   wall, CPU  the sums over the per-snapshot commands of /usr/bin/time's
#              elapsed and user+sys seconds; MB/s = logical MB / seconds
#   peak RSS   the largest maximum resident set of any one command
# The corpus is read once before the first setting so that every tool
# reads it from the page cache when memory allows (a note says when not).
set -euo pipefail

die() {
	echo "compare_stores: $*" >&2
	exit 1
}

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

ALL_SETTINGS=(borg8k borg64k casync16k casync64k restic b3cas b3cas-c4k)
out=/tmp/b3cas-compare keep=0 tools_arg=''

parse_args() {
	local positional=()

	while (($# > 0)); do
		case $1 in
		--out) (($# > 1)) || usage; out=$2; shift 2 ;;
		--tools) (($# > 1)) || usage; tools_arg=$2; shift 2 ;;
		--keep) keep=1; shift ;;
		-h | --help | -*) usage ;;
		*) positional+=("$1"); shift ;;
		esac
	done
	((${#positional[@]} == 2)) || usage
	corpus=${positional[0]} build=${positional[1]}
	[[ -d $corpus/snapshots ]] && corpus=$corpus/snapshots
	[[ -d $corpus ]] || die "$corpus: no such corpus folder"
	corpus=$(realpath "$corpus")
	mapfile -t snapshots < <(find "$corpus" -mindepth 1 -maxdepth 1 -type d | sort)
	((${#snapshots[@]} > 0)) || die "$corpus holds no snapshot folders"
	if [[ -n $tools_arg ]]; then
		IFS=, read -ra settings <<<"$tools_arg"
	else
		settings=("${ALL_SETTINGS[@]}")
	fi
	local s
	for s in "${settings[@]}"; do
		[[ " ${ALL_SETTINGS[*]} " == *" $s "* ||
			$s =~ ^b3cas-c([0-9]+)k(-frames)?(-z([0-9]+)|-raw)?$ ]] ||
			die "--tools: unknown setting $s"
	done
}

# Every tool a chosen setting needs, found before anything runs: a
# missing one is an error, never a row left out.
need_tools() {
	local s t needed=(/usr/bin/time du find xargs awk)

	for s in "${settings[@]}"; do
		case $s in
		borg*) needed+=(borg) ;;
		casync*) needed+=(casync) ;;
		restic) needed+=(restic) ;;
		esac
	done
	for t in "${needed[@]}"; do
		command -v "$t" >/dev/null ||
			die "$t not found: run scripts/bench_deps.sh (it installs borgbackup, restic, casync and time)"
	done
	if [[ " ${settings[*]} " == *" b3cas"* ]]; then
		b3cas=$build/b3cas
		[[ -x $b3cas ]] || die "$b3cas not found: build b3cas (cmake --build $build) or give another BUILD"
		b3cas=$(realpath "$b3cas")
	fi
}

prepare_out() {
	local src_root real

	src_root=$(realpath "$(dirname "$0")/..")
	# -m: judged before anything is made there
	real=$(realpath -m "$out")
	case $real/ in
	"$src_root"/*) die "--out $out is inside the source tree $src_root" ;;
	esac
	mkdir -p "$real"
	if [[ -e $real/.compare-stores ]]; then
		find "$real" -mindepth 1 -maxdepth 1 ! -name .compare-stores -exec rm -rf {} +
	elif [[ -n $(ls -A "$real") ]]; then
		die "--out $out is not empty and was not made by compare_stores.sh"
	fi
	touch "$real/.compare-stores"
	out=$real
}

# ---- one command, timed -------------------------------------------------------

# timed SETTING CMD...: run CMD (in the current folder) under GNU time,
# appending "wall user sys maxrss_kib" to the setting's times file. Its
# output goes to the setting's log; a failure shows the log and stops.
timed() {
	local s=$1 rc=0
	shift

	/usr/bin/time -f '%e %U %S %M' -a -o "$out/$s.times" "$@" \
		>>"$out/$s.log" 2>&1 || rc=$?
	if ((rc != 0)); then
		tail -n 20 "$out/$s.log" >&2
		die "$s: '$*' failed with exit $rc in $PWD (log: $out/$s.log)"
	fi
}

# ---- the settings -------------------------------------------------------------
# init_X REPO prepares an empty repository; ingest_X REPO NAME stores the
# current folder (a snapshot) as NAME.

borg_env() {
	export BORG_BASE_DIR=$out/$1.home
	export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
	export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
	export BORG_CHUNKER=$2
}

init_borg() {
	borg init -e none "$1" >>"$out/$setting.log" 2>&1 ||
		die "borg init failed (log: $out/$setting.log)"
}

ingest_borg() {
	timed "$setting" borg create --compression zstd,3 \
		--chunker-params "$BORG_CHUNKER" "$1::$2" .
}

init_casync() {
	mkdir -p "$1/store" "$1/index"
}

ingest_casync() {
	local size=()

	[[ -n $CASYNC_CHUNK ]] && size=(--chunk-size="$CASYNC_CHUNK")
	timed "$setting" casync make "${size[@]}" --store="$1/store" \
		"$1/index/$2.caidx" .
}

init_restic() {
	echo bench-password >"$out/restic.password"
	export RESTIC_PASSWORD_FILE=$out/restic.password
	export RESTIC_CACHE_DIR=$out/restic.cache
	restic init --repo "$1" >>"$out/$setting.log" 2>&1 ||
		die "restic init failed (log: $out/$setting.log)"
}

ingest_restic() {
	timed "$setting" restic backup --repo "$1" --quiet --host bench .
}

init_b3cas() {
	local opts=() spec n level
	# b3cas-cNk[-frames][-zL|-raw]: a chunking store
	if [[ $setting =~ ^b3cas-c([0-9]+)k(-frames)?(-z([0-9]+)|-raw)?$ ]]; then
		n=${BASH_REMATCH[1]} level=${BASH_REMATCH[4]}
		opts=(--chunk-avg $((n * 1024)))
		if [[ -n $level ]]; then
			opts+=(--compress-level "$level")
		elif [[ ${BASH_REMATCH[3]} != -raw ]]; then
			opts+=(--compress)
		fi
		[[ -n ${BASH_REMATCH[2]} ]] && opts+=(--no-pack)
	fi
	"$b3cas" --store "$1" init "${opts[@]}" >>"$out/$setting.log" 2>&1 ||
		die "b3cas init failed (log: $out/$setting.log)"
}

# The file list is made before the timer starts: finding files is not
# what is measured, and the other tools walk their folders themselves
# (a few ms here). In name order, as restic and casync read a folder
# (borg reads it in inode order): files of one package sit together, and
# a packed store compresses neighbouring chunks together (find's own
# order, the directory's hash order, stored 5.5 MB more of the corpus).
ingest_b3cas() {
	find . -type f -print0 | sort -z >"$out/b3cas.files"
	if [[ ${B3CAS_PUT_XARGS:-0} == 1 ]]; then
		timed "$setting" xargs -0 -a "$out/b3cas.files" \
			"$b3cas" --store "$1" put --no-names \
			--threads "${B3CAS_PUT_THREADS:-0}"
	else
		timed "$setting" "$b3cas" --store "$1" put --no-names \
			--threads "${B3CAS_PUT_THREADS:-0}" \
			--files0-from "$out/b3cas.files"
	fi
}

# run_setting S: a fresh repository, every snapshot into it, its size.
run_setting() {
	setting=$1
	local repo=$out/$1.repo kind snap i=0

	case $setting in
	borg8k) kind=borg; borg_env "$setting" buzhash,10,23,13,4095 ;;
	borg64k) kind=borg; borg_env "$setting" buzhash,14,23,16,4095 ;;
	casync16k) kind=casync; CASYNC_CHUNK=16384 ;;
	casync64k) kind=casync; CASYNC_CHUNK='' ;;
	restic) kind=restic ;;
	b3cas | b3cas-c*) kind=b3cas ;;
	esac
	"init_$kind" "$repo"
	for snap in "${snapshots[@]}"; do
		i=$((i + 1))
		(cd "$snap" && "ingest_$kind" "$repo" "$(basename "$snap")")
		# progress redrawn on a terminal only: logs get one line
		[[ -t 2 ]] && printf '\r%s: %d/%d snapshots' "$setting" "$i" "${#snapshots[@]}" >&2
	done
	[[ -t 2 ]] && echo >&2
	echo "$setting: ${#snapshots[@]} snapshots stored" >&2
	sync
	du -sb "$repo" | awk '{ print $1 }' >"$out/$setting.stored"
	if ((keep == 0)); then
		rm -rf "$repo" "$out/$setting.home" "$out/restic.cache"
	fi
}

# ---- the table ------------------------------------------------------------------

version_of() {
	case $1 in
	borg*) borg --version ;;
	casync*) casync --version 2>&1 | head -n 1 ;;
	restic) restic version | awk '{ print $1, $2 }' ;;
	b3cas*) "$b3cas" --version | awk 'NR == 1 { print $1, $2 }' ;;
	esac
}

# Read the corpus once, so that the first tool does not pay for the disk.
warm_cache() {
	local avail_kib

	avail_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
	if ((logical * 2 / 1024 > avail_kib)); then
		echo "note: the corpus ($((logical / 1000000)) MB) is more than half the available memory: reads may hit the disk"
	fi
	find "$corpus" -type f -print0 | xargs -0 cat >/dev/null
}

print_table() {
	local s

	printf '\ncorpus: %s\n' "$corpus"
	printf 'snapshots: %d, files: %d, logical bytes: %d (%.1f MB)\n' \
		"${#snapshots[@]}" "$files" "$logical" "$(awk -v b="$logical" 'BEGIN { print b / 1e6 }')"
	printf 'machine: %s, %d cores, load average before: %s\n\n' \
		"$(uname -m)" "$(nproc)" "$load_before"
	printf '| %-10s | %-28s | %10s | %10s | %7s | %7s | %15s | %8s |\n' \
		setting version "stored MB" "not stored" "wall s" "CPU s" "MB/s wall/CPU" "peak RSS"
	printf '|%s|\n' "------------|------------------------------|------------|------------|---------|---------|-----------------|----------"
	for s in "${settings[@]}"; do
		awk -v s="$s" -v v="$(version_of "$s")" -v logical="$logical" \
			-v stored="$(cat "$out/$s.stored")" '
			{ wall += $1; cpu += $2 + $3; if ($4 > rss) rss = $4 }
			END {
				# time counts in 10 ms: a tiny run can sum to 0
				if (wall < 0.01) wall = 0.01
				if (cpu < 0.01) cpu = 0.01
				printf "| %-10s | %-28s | %10.1f | %9.1f%% | %7.1f | %7.1f | %7.1f / %-5.1f | %5.0f MB |\n",
					s, v, stored / 1e6, 100 * (1 - stored / logical),
					wall, cpu, logical / 1e6 / wall, logical / 1e6 / cpu,
					rss / 1024
			}' "$out/$s.times"
	done
}

main() {
	local s

	parse_args "$@"
	need_tools
	prepare_out
	read -r files logical < <(find "$corpus" -type f -printf '%s\n' |
		awk '{ n++; s += $1 } END { printf "%d %.0f\n", n, s }')
	[[ $logical =~ ^[1-9][0-9]*$ ]] || die "$corpus: no bytes to store (logical: '$logical')"
	load_before=$(cut -d ' ' -f 1-3 /proc/loadavg)
	warm_cache
	for s in "${settings[@]}"; do
		run_setting "$s"
	done
	print_table | tee "$out/table.md"
}

main "$@"
