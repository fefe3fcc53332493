#!/usr/bin/env bash
# demo.sh - install what is missing, build b3cas (Release) and run a short
# end-to-end demo in ./b3cas-demo under the current working folder.
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
run "$src/build/bench/bench_hash" --quick --sizes 64,4096,65536,1048576
printf '\nDemo files are in %s\n' "$work"
