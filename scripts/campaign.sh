#!/usr/bin/env bash
# campaign.sh - the long campaigns in full, run before an issue is closed
# (CI runs the same tests in their short forms; see scripts/test.sh).
#
#   scripts/campaign.sh [ctest -R regex]
#
# Builds the release tree (build-campaign/) and runs the crash,
# concurrency and integrity tests named below and the CLI scripts with
# B3CAS_TEST_LONG=1 (tests with a long form scale their case counts up:
# test_live_fsck runs 24 seeds, test_nomem sweeps every Nth allocation
# too, the random tests run ten times as many cases, test_store_crash
# kills its writer five times as often) and B3CAS_CRASH_ROUNDS=1000
# (test_powerloss and test_faults: 1,000 rounds each; CI runs 120, 40
# under the sanitizers), then under AddressSanitizer what CI's ASan
# stage leaves out (the kill campaigns, the CLI scripts' leak checks),
# and the concurrency tests again under ThreadSanitizer.
# Any failure exits non-zero. Expect an hour or more on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/deps.sh
jobs=$(nproc)
# the tests whose long forms are campaigns (and the CLI scripts beside them)
filter=${1:-'test_(powerloss|faults|nomem|store_crash|store_threads|cache|live_fsck|gc_repair|full_disk|campaign|fsck|lock|interrupt|chunked|links|tree_store|checkpoint|delta|git_stream|rados)|cli_'}

printf '\n=== campaign: release build ===\n'
cmake -S "$root" -B build-campaign -DCMAKE_BUILD_TYPE=Release \
	-DB3CAS_WERROR=ON -DB3CAS_CRASH_ROUNDS=1000 -DB3CAS_LONG_TESTS=ON \
	>/dev/null
cmake --build build-campaign -j"$jobs" >/dev/null
(cd build-campaign &&
	B3CAS_TEST_LONG=1 \
		ctest --output-on-failure --timeout 7200 -j"$jobs" -R "$filter")

# What CI's ASan stage leaves out for its time (scripts/test.sh): the
# kill -9 campaigns (label "kills", tests/CMakeLists.txt) and the leak
# check of the CLI scripts that start hundreds of processes
# (B3CAS_CLI_LEAKS, tests/tools/CMakeLists.txt). Here they run under
# ASan and UBSan, in their CI sizes (a sanitizer's round costs about 4
# release ones).
printf '\n=== campaign: AddressSanitizer + UBSan, kills and CLI leaks ===\n'
cmake -S "$root" -B build-campaign-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DB3CAS_SANITIZE=address,undefined -DB3CAS_BENCH=OFF \
	-DB3CAS_WERROR=ON -DB3CAS_CLI_LEAKS=ON >/dev/null
cmake --build build-campaign-asan -j"$jobs" >/dev/null
for sel in "-L kills" "-R ^cli_ -LE kills"; do
	# shellcheck disable=SC2086 # sel is two options and their values
	(cd build-campaign-asan &&
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			ctest --output-on-failure --timeout 1800 -j"$jobs" \
			$sel --no-tests=error)
done

printf '\n=== campaign: ThreadSanitizer, concurrency tests, long form ===\n'
CC=clang cmake -S "$root" -B build-campaign-tsan \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo -DB3CAS_SANITIZE=thread \
	-DB3CAS_BENCH=OFF -DB3CAS_WERROR=ON -DB3CAS_LONG_TESTS=ON >/dev/null
cmake --build build-campaign-tsan -j"$jobs" >/dev/null
(cd build-campaign-tsan &&
	B3CAS_TEST_LONG=1 \
	TSAN_OPTIONS="halt_on_error=1 suppressions=$root/tests/tsan.supp" \
		ctest --output-on-failure --timeout 7200 -L concurrency \
		--no-tests=error)
printf '\n=== campaign passed ===\n'
