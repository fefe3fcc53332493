#!/bin/bash
# bench_compare.sh - bench_store and bench_cache of two builds side by side
# in one run, to show a change costs nothing: the two builds' programs run
# in turns (old, new, new, old, ...) ROUNDS times each on the same machine,
# and each figure is the median over the rounds, with new/old.
#
# Usage: scripts/bench_compare.sh OLD_BUILD NEW_BUILD [ROUNDS]
#   OLD_BUILD, NEW_BUILD: build folders holding bench/bench_store and
#   bench/bench_cache (e.g. a worktree of the starting commit, built
#   Release). ROUNDS: default 5.
# Environment: STORE_ARGS, CACHE_ARGS override the benchmarks' options.
set -eu
old=$1 new=$2 rounds=${3:-5}
store_args=${STORE_ARGS:---sizes 1K,64K,1M --modes none,batch --threads 1,2 --no-study --no-group --scale 0.5}
cache_args=${CACHE_ARGS:---threads 1,2,64 --seconds 1}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$out"

# figures NAME FILE: "metric value" lines from one run's output.
figures() {
	case $1 in
	store) # rows: size mode threads | put new p50 p99 ops/s | ... | get p50 p99 ops/s | ...
		awk 'function us(t) { # "12.3us", "1.49ms", "830ns", "1.2s" in us
			if (t ~ /ns$/) return t / 1000
			if (t ~ /us$/) return t + 0
			if (t ~ /ms$/) return t * 1000
			return t * 1000000
		}
		$1 ~ /^[0-9]+[KM]?$/ && $4 == "|" && NF >= 17 {
			k = $1 " " $2 " " $3 "thr"
			print k " put-p50-us", us($5)
			print k " put-ops/s", $7
			print k " dup-put-p50-us", us($12)
			print k " get-p50-us", us($15)
			print k " get-ops/s", $17
		}' "$2" ;;
	cache) # the summary lines: a label, then the first figure
		awk '/^(INFO|PASS|FAIL) / {
			line = $0; sub(/^(INFO|PASS|FAIL) +/, "", line)
			split(line, parts, ": ")
			# the first figure standing alone ("p50 0.130 us": 0.130)
			if (match(" " parts[2], / [0-9][0-9.]*/)) {
				# counts that vary with the length of a run are
				# not part of the name
				label = parts[1]; gsub(/[0-9][0-9][0-9]+/, "N", label)
				print label, substr(" " parts[2], RSTART + 1, RLENGTH - 1) + 0
			}
		}' "$2" ;;
	esac
}

for r in $(seq 1 "$rounds"); do
	# Alternate which side goes first, so drift hurts neither.
	if [ $((r % 2)) = 1 ]; then order="old new"; else order="new old"; fi
	for side in $order; do
		eval "dir=\$$side"
		echo "round $r/$rounds: $side" >&2
		"$dir/bench/bench_store" $store_args >"store.$side.$r" 2>&1
		"$dir/bench/bench_cache" $cache_args >"cache.$side.$r" 2>&1
		figures store "store.$side.$r" >>"fig.store.$side"
		figures cache "cache.$side.$r" >>"fig.cache.$side"
	done
done

median() { # median of the values of metric $1 in file $2
	awk -v m="$1" '{ v = $NF; $NF = ""; sub(/ $/, ""); if ($0 == m) print v }' "$2" |
		sort -g | awk '{ a[NR] = $1 } END { if (NR) print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'
}
for b in store cache; do
	echo "== bench_$b: median of $rounds runs each, old = $old, new = $new =="
	printf '%-58s %14s %14s %8s\n' metric old new new/old
	awk '{ $NF = ""; sub(/ $/, ""); print }' "fig.$b.old" | awk '!seen[$0]++' |
	while IFS= read -r m; do
		o=$(median "$m" "fig.$b.old")
		n=$(median "$m" "fig.$b.new")
		[ -n "$o" ] && [ -n "$n" ] || continue
		ratio=$(awk -v o="$o" -v n="$n" 'BEGIN { if (o > 0) printf "%.3f", n / o; else print "-" }')
		printf '%-58s %14s %14s %8s\n' "$m" "$o" "$n" "$ratio"
	done
done
