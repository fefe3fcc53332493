#!/usr/bin/env bash
# bench_cli.sh [--size SIZE] [B3CAS [FILE]] - whole-process speed of
# `b3cas hash` against Debian's b3sum on a file in the page cache, as the
# ratio of the two medians measured side by side in this run.
#
# The file is FILE, or SIZE random bytes (default 1G; K, M, G are powers of
# 1024, as for head -c; a small one makes a smoke run). b3cas runs at each
# SIMD level from sse41 up to the one `b3cas --version` reports (the CPU's
# best, or lower when B3CAS_SIMD is set), with all threads and with
# --num-threads 1; b3sum always picks its own best level, which nothing
# here can lower. Each pair is `hyperfine -N`, 2 warm-up runs and 5
# measured runs, median. hyperfine's CSV is read with awk: python3 is not
# among the packages scripts/deps.sh installs.
set -euo pipefail

usage() {
	echo "usage: bench_cli.sh [--size SIZE] [B3CAS [FILE]]" >&2
	exit 2
}

size=1G
while (($# > 0)) && [[ $1 == --* ]]; do
	case $1 in
	--size) (($# > 1)) || usage; size=$2; shift 2 ;;
	--size=*) size=${1#--size=}; shift ;;
	*) usage ;;
	esac
done
(($# <= 2)) || usage
[[ $size =~ ^[1-9][0-9]*[KMG]?$ ]] || usage
b3cas=${1:-build/b3cas}
file=${2:-}

for tool in b3sum hyperfine "$b3cas"; do
	command -v "$tool" >/dev/null || {
		echo "bench_cli: $tool not found (scripts/deps.sh installs" \
			"b3sum and hyperfine)" >&2
		exit 1
	}
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [[ -z $file ]]; then
	file=$tmp/random.bin
	head -c "$size" /dev/urandom >"$file"
fi
cat "$file" >/dev/null # into the page cache

# The levels b3cas is measured at: sse41 up to the level in use.
top=$("$b3cas" --version | sed -n 's/.*SIMD level: \([a-z0-9]*\).*/\1/p')
case $top in
portable) levels=(portable) ;;
sse41) levels=(sse41) ;;
avx2) levels=(sse41 avx2) ;;
avx512) levels=(sse41 avx2 avx512) ;;
*)
	echo "bench_cli: no SIMD level in '$b3cas --version'" >&2
	exit 1
	;;
esac

# One line: the medians of the pair in hyperfine's CSV and their ratio.
report() {
	awk -F, -v what="$1" '
	NR == 1 {
		for (i = 1; i <= NF; i++)
			if ($i == "median")
				m = i
		next
	}
	{ t[$1] = $m }
	END {
		if (!m || !t["b3sum"] || !t["b3cas"]) {
			print "bench_cli: no medians in hyperfine'\''s CSV" \
				> "/dev/stderr"
			exit 1
		}
		printf "%-32s b3sum %7.1f ms  b3cas %7.1f ms  " \
		       "b3cas is %.2fx as fast as b3sum\n", what,
		       t["b3sum"] * 1e3, t["b3cas"] * 1e3,
		       t["b3sum"] / t["b3cas"]
	}' "$2"
}

want=$(b3sum "$file")
echo "b3cas hash against $(b3sum --version) on $file" \
	"($(stat -c %s "$file") bytes, in the page cache)"
echo "b3cas at ${levels[*]} (up to the level of '$b3cas --version')"
echo "b3sum at its own best level every time (nothing lowers it): a pair is" \
	"level with level only where b3cas runs at the CPU's best"
echo "hyperfine -N, 2 warm-up runs, median of 5 runs; each pair measured" \
	"side by side, now"
for level in "${levels[@]}"; do
	if [[ $(B3CAS_SIMD=$level "$b3cas" hash "$file") != "$want" ]]; then
		echo "bench_cli: b3cas at $level and b3sum disagree" \
			"on $file" >&2
		exit 1
	fi
	for threads in all 1; do
		opts=()
		label="all threads"
		if [[ $threads == 1 ]]; then
			opts=(--num-threads 1)
			label="--num-threads 1"
		fi
		B3CAS_SIMD=$level hyperfine -N -w 2 -r 5 --style none \
			--export-csv "$tmp/pair.csv" \
			-n b3sum "$(printf '%q ' b3sum "${opts[@]}" "$file")" \
			-n b3cas "$(printf '%q ' "$b3cas" hash "${opts[@]}" \
				"$file")" >/dev/null
		report "b3cas $level, $label:" "$tmp/pair.csv"
	done
done
