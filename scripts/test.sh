#!/usr/bin/env bash
# test.sh - install what is missing, build b3cas and run every test:
#   1. Release build with -Wall -Wextra -Werror, the whole ctest suite
#   2. the SIMD ladder: the suite again with B3CAS_SIMD=avx2, sse41, portable
#      (tests that walk every level themselves still do; this makes the
#      default level of everything else - the CLI, the fuzz replays - walk
#      down too), but for the crash campaigns, the tests labelled
#      simd-neutral (tests/CMakeLists.txt), which no kernel can change,
#      and those labelled simd-walks, which walk every level themselves
#   3. AddressSanitizer + UndefinedBehaviorSanitizer build, the whole
#      suite but the kill -9 campaigns (label "kills", tests/CMakeLists.txt:
#      run by stage 1 here and under ASan by scripts/campaign.sh) and the
#      store tests' RADOS variants (label "rados-variant": stage 1; the
#      tier's own tests run here)
#   4. ThreadSanitizer build (clang) of the programs the concurrency tests
#      (label "concurrency") run, and those tests
#   5. the libFuzzer target built with clang and run briefly
# Any failure stops the run with a non-zero exit. A missing dependency is
# an error, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scripts/deps.sh

jobs=$(nproc)
log() { printf '\n=== %s ===\n' "$*"; }
# The sanitizer and fuzz builds keep line tables only (-g1: a report's
# stack still names file and line): the ASan build took 85 s against
# 110 with full debug information.
debug_lines=(-DCMAKE_BUILD_TYPE=RelWithDebInfo
	"-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG")

configure_build() {
	local dir=$1
	shift
	cmake -S "$root" -B "$dir" -DB3CAS_WERROR=ON "$@" >/dev/null
	cmake --build "$dir" -j"$jobs" >/dev/null
}

run_ctest() {
	local dir=$1
	shift
	(cd "$dir" && ctest --output-on-failure --timeout 900 "$@")
}

log "release build (gcc, -Werror)"
configure_build build -DCMAKE_BUILD_TYPE=Release
run_ctest build -j"$jobs"

for level in avx2 sse41 portable; do
	log "SIMD ladder: B3CAS_SIMD=$level"
	B3CAS_SIMD=$level run_ctest build -j"$jobs" \
		-LE 'crash|simd-neutral|simd-walks'
done

log "AddressSanitizer + UndefinedBehaviorSanitizer"
configure_build build-asan "${debug_lines[@]}" \
	-DB3CAS_SANITIZE=address,undefined -DB3CAS_BENCH=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run_ctest build-asan -j"$jobs" -LE 'kills|rados-variant'

log "ThreadSanitizer (clang), concurrency tests"
# Only what those tests run is built: the programs their commands and
# environments name under build-tsan/ (the b3cas program as b3cas_cli);
# a test added to the label is picked up, and one whose program is not
# built fails. Building the whole tree took about 90 s of CI.
CC=clang cmake -S "$root" -B build-tsan -DB3CAS_WERROR=ON \
	"${debug_lines[@]}" -DB3CAS_SANITIZE=thread \
	-DB3CAS_BENCH=OFF >/dev/null
mapfile -t tsan_targets < <(
	(cd build-tsan && ctest -N -V -L concurrency) |
		grep -o "$root/build-tsan/[^ ;\"']*" | sed 's|.*/||' |
		grep -E '^(test_[a-z0-9_]+|b3cas)$' | sort -u |
		sed 's/^b3cas$/b3cas_cli/')
if ((${#tsan_targets[@]} < 2)); then
	echo "FAIL: no programs found for the concurrency tests" >&2
	exit 1
fi
cmake --build build-tsan -j"$jobs" --target "${tsan_targets[@]}" >/dev/null
TSAN_OPTIONS="halt_on_error=1 suppressions=$root/tests/tsan.supp" \
	run_ctest build-tsan -j"$jobs" -L concurrency --no-tests=error

log "libFuzzer (clang): build and a short run from the corpus"
# Only the five targets run here (their corpora are replayed by every
# ctest run above): building the whole tree again took a minute of CI.
# Six seconds each: a smoke run that the corpus still loads and the
# targets still hold, kept short for CI's 25 minutes; long runs are made
# by hand (fuzz/README.md).
CC=clang cmake -S "$root" -B build-fuzz -DB3CAS_WERROR=ON \
	"${debug_lines[@]}" -DB3CAS_FUZZ=ON -DB3CAS_BENCH=OFF \
	-DBUILD_TESTING=ON >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_hasher_update \
	fuzz_store_text fuzz_zstd fuzz_cdc fuzz_tree >/dev/null
fuzzdir=$(mktemp -d)
trap 'rm -rf "$fuzzdir"' EXIT
# fuzz NAME MAX_LEN [OPTION...]: on a copy of its corpus for 6 s, its
# report in $fuzzdir/NAME.log. They run two at a time (one process, one
# core each); every report's last lines are shown, and any failure
# stops the run.
fuzz() {
	local name=$1 max_len=$2
	shift 2
	mkdir "$fuzzdir/$name"
	cp -r "fuzz/corpus/$name/." "$fuzzdir/$name/"
	build-fuzz/fuzz/fuzz_"$name" "$@" -seed=1 -max_total_time=6 \
		-max_len="$max_len" "$fuzzdir/$name" > "$fuzzdir/$name.log" 2>&1
}
fuzz_report() { # NAME RC
	echo "--- fuzz_$1 (exit $2)"
	tail -n 3 "$fuzzdir/$1.log"
	[[ $2 == 0 ]]
}
fuzz hasher_update 8192 -entropic=0 & p1=$!
fuzz store_text 512 & p2=$!
r1=0 r2=0; wait $p1 || r1=$?; wait $p2 || r2=$?
fuzz_report hasher_update $r1; fuzz_report store_text $r2
fuzz zstd 8192 & p1=$!
fuzz cdc 65536 -entropic=0 & p2=$!
r1=0 r2=0; wait $p1 || r1=$?; wait $p2 || r2=$?
fuzz_report zstd $r1; fuzz_report cdc $r2
r1=0; fuzz tree 4096 || r1=$?
fuzz_report tree $r1

log "all tests passed"
