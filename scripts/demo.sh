#!/usr/bin/env bash
# demo.sh - install what is missing, build b3cas (Release) and run a short
# end-to-end demo in ./b3cas-demo under the current working folder: hash
# files like b3sum, then store them in a b3cas store there and read them
# back.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=$PWD/b3cas-demo

"$src/scripts/deps.sh"
cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$src/build" -j"$(nproc)" >/dev/null
b3cas=$src/build/b3cas

if [[ -t 1 ]]; then
	say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
else
	say() { printf '\n$ %s\n' "$*"; }
fi
run() { say "$*"; "$@"; }

rm -rf "$work"
mkdir -p "$work"
cd "$work"
head -c 100 /dev/urandom >small.bin
head -c 5000000 /dev/urandom >medium.bin
head -c 64000000 /dev/urandom >large.bin
printf 'hello, b3cas\n' >hello.txt

run "$b3cas" --version
run "$b3cas" hash hello.txt small.bin medium.bin large.bin
say "b3sum hello.txt small.bin medium.bin large.bin   # Debian's reference"
b3sum hello.txt small.bin medium.bin large.bin
if diff <("$b3cas" hash ./*.bin hello.txt) <(b3sum ./*.bin hello.txt) >/dev/null; then
	echo "=> identical to b3sum"
else
	echo "=> DIFFERENT from b3sum" >&2
	exit 1
fi
run "$b3cas" hash --length 64 --no-names hello.txt
say "$b3cas hash --derive-key 'b3cas demo 2026' hello.txt"
"$b3cas" hash --derive-key 'b3cas demo 2026' hello.txt
"$b3cas" hash ./*.bin hello.txt >SUMS
run "$b3cas" hash --check SUMS
printf 'x' >>small.bin
say "$b3cas hash --check --quiet SUMS   # after changing small.bin"
if "$b3cas" hash --check --quiet SUMS; then
	echo "=> the change went unnoticed" >&2
	exit 1
else
	echo "=> exit code $?: the change was detected"
fi

# The content store: files in, ids out (the same ids b3sum prints), bytes
# back, duplicates stored once with a reference count; the last rm leaves
# the bytes to gc.
store=$work/store
run "$b3cas" --store "$store" init
run "$b3cas" --store "$store" put hello.txt small.bin medium.bin large.bin
id=$("$b3cas" --store "$store" put --no-names medium.bin)
say "$b3cas --store $store put --no-names medium.bin   # the same content again"
echo "$id"
run "$b3cas" --store "$store" stat "$id"
run "$b3cas" --store "$store" ls --long
say "$b3cas --store $store get $id -o medium.out && cmp medium.bin medium.out"
"$b3cas" --store "$store" get "$id" -o medium.out
cmp medium.bin medium.out && echo "=> identical bytes back"
run "$b3cas" --store "$store" stats
run "$b3cas" --store "$store" rm "$id"
run "$b3cas" --store "$store" rm "$id"
run "$b3cas" --store "$store" gc --dry-run --grace 0
run "$b3cas" --store "$store" gc --grace 0
run "$b3cas" --store "$store" stats --json
say "$b3cas --store $store exists 0000...0000   # an id never stored"
if "$b3cas" --store "$store" exists "$(printf '0%.0s' {1..64})"; then
	echo "=> unexpected: reported present" >&2
	exit 1
else
	echo "=> exit code $?: absent"
fi
# Checkpoints of a sandbox: its files as trees and a memory image as a
# blob, twice with a change between; any point in time restores exactly,
# and GC frees what only a deleted checkpoint held.
ck=$work/ckstore
sb=$work/sandbox
rm -rf "$sb" "$work/restored" "$work/restored-blobs"
mkdir -p "$sb/etc" "$sb/var/log"
echo "hello" >"$sb/etc/motd"
echo "boot" >"$sb/var/log/app.log"
head -c 4000000 /dev/urandom >"$work/memory.img"
run "$b3cas" --store "$ck" init --chunking
run "$b3cas" --store "$ck" checkpoint create demo --tree "$sb" \
	--blob memory="$work/memory.img" --label step=1
first=$("$b3cas" --store "$ck" checkpoint list demo | cut -d' ' -f1)
cp "$work/memory.img" "$work/memory-1.img"
echo "running" >>"$sb/var/log/app.log"
dd if=/dev/urandom of="$work/memory.img" bs=4096 count=8 seek=100 \
	conv=notrunc status=none
run "$b3cas" --store "$ck" checkpoint create demo --tree "$sb" \
	--blob memory="$work/memory.img" --label step=2
run "$b3cas" --store "$ck" checkpoint list demo
run "$b3cas" --store "$ck" checkpoint diff "$first" demo || true
run "$b3cas" --store "$ck" checkpoint restore "$first" "$work/restored" \
	--blobs "$work/restored-blobs"
cmp "$work/memory-1.img" "$work/restored-blobs/memory" &&
	grep -qx boot "$work/restored/var/log/app.log" &&
	echo "=> the first checkpoint came back exactly"
run "$b3cas" --store "$ck" stats
run "$b3cas" --store "$ck" checkpoint prune demo --keep-last 1
run "$b3cas" --store "$ck" gc --grace 0
run "$b3cas" --store "$ck" stats
# Hashing speed as ratios to OpenSSL's SHA-256 and SHA-1 and to b3cas's own
# portable code, all measured now on this machine (the program says which
# SIMD level it has): a figure written on another machine would say nothing
# about this one.
run "$src/build/bench/bench_hash" --quick --repeat 5 --summary \
	--sizes 64,4K,64K,1M
run "$src/build/bench/bench_store" --quick --no-study --sizes 1K,64K \
	--modes batch --threads 1 --dir "$work"
printf '\nDemo files are in %s\n' "$work"
