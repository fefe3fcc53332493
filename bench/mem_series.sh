#!/usr/bin/env bash
# mem_series.sh - checkpoints of one memory image (issue 17, item 3 and
# its acceptance): what each incremental checkpoint costs, against
# `zstd -3` of the changed bytes alone.
#
#   bench/mem_series.sh [--size MIB] [--steps N] [--avg BYTES] [--keep DIR]
#                       [--quick] BUILD
#
# Makes a template image of MIB MiB (default 256; bench/mem_image
# template, seed 1, the b3cas program's own ELF file as code pages), then
# N checkpoints (default 50), each a fork of the one before: step i
# rewrites 1 + i % 5 percent of the pages and inserts 1 + i % 3 runs of
# 1-16 bytes (mem_image fork --changes: the rewritten pages and inserted
# bytes are also written apart). Then:
# 1. the model of bench_mem_chunking over the series: fixed 4 KiB pages
#    and FastCDC at 1-16 KiB averages (stored bytes per checkpoint);
# 2. a real store, `b3cas init --chunk-avg AVG --compress` (AVG default
#    4096): each image put in turn, in its own run, and the store folder's
#    bytes (du -sb: index, manifests, everything) measured after each.
# Printed: per incremental checkpoint, the mean and largest growth of the
# store, the mean of `zstd -3` of the changes, and their ratio (issue 17's
# acceptance: at most 1.5), and the largest ratio of one step.
# --quick: 4 MiB, 4 steps, and checks that the model ran (its own
# invariants) and that the store grew at every checkpoint, but less than
# an image (the ctest smoke run; a few pages' changes are too few for the
# ratio to mean anything: each run's new index tables cost about as much).
# Exit 1 when a check fails.
set -euo pipefail

size=256 steps=50 avg=4096 keep='' quick=0
usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}
while (($# > 0)); do
	case $1 in
	--size) size=${2:?}; shift 2 ;;
	--steps) steps=${2:?}; shift 2 ;;
	--avg) avg=${2:?}; shift 2 ;;
	--keep) keep=${2:?}; shift 2 ;;
	--quick) quick=1 size=4 steps=4; shift ;;
	-h | --help | -*) usage ;;
	*) break ;;
	esac
done
(($# == 1)) || usage
build=$(realpath "$1")
b3cas=$build/b3cas mem_image=$build/bench/mem_image
model=$build/bench/bench_mem_chunking
for p in "$b3cas" "$mem_image" "$model"; do
	[[ -x $p ]] || { echo "mem_series: $p: not built" >&2; exit 1; }
done
command -v zstd >/dev/null || { echo "mem_series: zstd: not installed" >&2; exit 1; }

if [[ -n $keep ]]; then
	work=$keep
	mkdir -p "$work"
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/mem_series.XXXXXX")
	trap 'rm -rf "$work"' EXIT
fi

img() { printf '%s/img-%03d\n' "$work" "$1"; }

"$mem_image" template --size $((size << 20)) --seed 1 --elf "$b3cas" "$(img 0)"
for ((i = 1; i <= steps; i++)); do
	"$mem_image" fork --seed $((100 + i)) --pages $((1 + i % 5)) \
		--inserts $((1 + i % 3)) --changes "$work/changes-$i" \
		"$(img $((i - 1)))" "$(img $i)"
done

echo "== the model (bench_mem_chunking), ${size} MiB, $steps checkpoints"
"$model" $(for ((i = 0; i <= steps; i++)); do img $i; done)

echo
echo "== a store: b3cas init --chunk-avg $avg --compress; a put per image"
store=$work/store
"$b3cas" --store "$store" init --chunk-avg "$avg" --compress >/dev/null
before=$(du -sb "$store" | cut -f1)
growth=() zs=()
for ((i = 0; i <= steps; i++)); do
	"$b3cas" --store "$store" put "$(img $i)" >/dev/null
	after=$(du -sb "$store" | cut -f1)
	growth+=($((after - before)))
	before=$after
	((i == 0)) && continue
	zs+=($(zstd -3 -c "$work/changes-$i" | wc -c))
done
awk -v first="${growth[0]}" -v g="${growth[*]:1}" -v z="${zs[*]}" \
	-v quick=$quick 'BEGIN {
	n = split(g, G, " "); split(z, Z, " ")
	for (i = 1; i <= n; i++) {
		sg += G[i]; sz += Z[i]
		if (G[i] > mg) mg = G[i]
		r = G[i] / Z[i]; if (r > mr) mr = r
	}
	printf "template: %.1f MiB stored\n", first / 1048576
	printf "per checkpoint: store grew %.1f KiB on average (largest %.1f KiB); zstd -3 of the changes %.1f KiB\n", sg / n / 1024, mg / 1024, sz / n / 1024
	printf "ratio (mean growth / mean zstd -3 of changes): %.2f; largest of one step: %.2f\n", sg / sz, mr
	for (i = 1; quick && i <= n; i++)
		if (G[i] <= 0 || G[i] >= first || Z[i] <= 0) {
			printf "mem_series: checkpoint %d: the store grew %d bytes (the template %d), zstd of the changes %d\n", i, G[i], first, Z[i] > "/dev/stderr"
			exit 1
		}
}'
