#!/usr/bin/env bash
# hash_vs_b3sum.sh B3CAS - differential test of `b3cas hash` against Debian's
# b3sum (the reference): random files of random sizes, awkward names, every
# flag, stdin, and check files good, bad and malformed. Standard output must
# be byte-identical and the exit status equal, except where b3cas documents
# a different code (usage errors exit 2, where b3sum exits 1).
# The whole run repeats at every SIMD level the CPU supports, and at each
# level `b3cas put` of every file into a chunking store prints b3sum's
# lines (the small files' ids hashed whole, the large files' chunks in
# batches and their ids whole: both of a put's hashing paths). So the SIMD ladder of scripts/test.sh need not run
# this test again (it is labelled simd-neutral).
#
# Seeded: B3CAS_TEST_SEED replays a run (the seed is printed).
set -uo pipefail

b3cas=$(realpath "${1:?usage: hash_vs_b3sum.sh PATH_TO_B3CAS}")
if ! command -v b3sum >/dev/null; then
	echo "FAIL: b3sum is not installed (Debian package b3sum);" \
		"scripts/deps.sh installs it" >&2
	exit 1
fi

seed=${B3CAS_TEST_SEED:-$(( $(date +%s) % 100000 ))}
echo "seed $seed (set B3CAS_TEST_SEED to replay)"
RANDOM=$seed

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

compared=0
failed=0

# compare EXPECTED_DIFFERENT_CODE CMD...: run "b3cas hash ARGS" and
# "b3sum ARGS" with the same stdin (file $work/stdin), compare stdout and
# exit status. With a code as first argument, b3cas must exit with that
# code instead of b3sum's (a documented difference); "-" means equal.
compare() {
	local want_code=$1
	shift
	"$b3cas" hash "$@" <stdin >out.ours 2>err.ours
	local ours=$?
	b3sum "$@" <stdin >out.ref 2>err.ref
	local ref=$?
	compared=$((compared + 1))
	local bad=""
	if ! cmp -s out.ours out.ref; then
		bad="stdout differs"
	elif [[ $want_code == - && $ours != "$ref" ]]; then
		bad="exit status $ours, b3sum $ref"
	elif [[ $want_code != - && $ours != "$want_code" ]]; then
		bad="exit status $ours, expected $want_code (b3sum: $ref)"
	fi
	if [[ -n $bad ]]; then
		failed=$((failed + 1))
		echo "MISMATCH ($bad) [SIMD=${B3CAS_SIMD:-best}]: hash $*"
		echo "--- b3cas stdout:"
		xxd out.ours | head -20
		echo "--- b3sum stdout:"
		xxd out.ref | head -20
		echo "--- b3cas stderr:"
		head -5 err.ours
		echo "--- b3sum stderr:"
		head -5 err.ref
	fi
}

random_file() { # name size
	head -c "$2" /dev/urandom >"$1"
}

# ---- inputs ----
: >stdin
sizes=(0 1 63 64 65 1023 1024 1025 2048 2049 3072 4096 4097 16384 31744
	65535 65536 65537 131072 131073 1048576 1048577)
for i in 1 2 3 4 5 6; do
	sizes+=($(( (RANDOM * 32768 + RANDOM) % 3000000 )))
done
# 40 MiB and more: mapped with the prefault thread (tools/cmd_hash.c)
sizes+=(20971520 $((20971520 + RANDOM)) $((41943040 + RANDOM)))
files=()
for s in "${sizes[@]}"; do
	random_file "f_$s" "$s"
	files+=("f_$s")
done
printf 'abc' >'with space'
printf 'back' >'back\slash'
printf 'newline' >$'new\nline'
printf 'both' >$'b\\oth\nname'
odd=('with space' 'back\slash' $'new\nline' $'b\\oth\nname')
mkdir adir
head -c 32 /dev/urandom >key
head -c 31 /dev/urandom >shortkey
cat key key >longkey

run_all() {
	local f
	# plain, several files, names needing escapes
	compare - "${files[@]}"
	compare - "${odd[@]}"
	compare - --no-names "${odd[@]}" f_0
	for len in 0 1 31 32 33 64 65 100 1000 5000; do
		compare - --length "$len" f_1 f_1025 f_65537 'back\slash'
		compare - -l "$len" --no-names f_4097
	done
	compare - -l5 f_64
	compare - --length=7 f_64
	# XOF output spanning many pieces
	compare - -l 100000 --no-names f_2049
	# every file through every threading mode and mmap on/off
	for f in "${files[@]}"; do
		compare - --num-threads 1 "$f"
	done
	compare - --num-threads 2 "${files[@]}"
	compare - --num-threads 4 "${files[@]}"
	compare - --num-threads 0 f_20971520
	compare - --no-mmap "${files[@]}"
	# derive-key
	compare - --derive-key "b3cas test context" "${files[@]:0:8}" f_1048577
	compare - --derive-key "" f_65
	compare - --derive-key "ctx" -l 77 f_3072
	# keyed: key on stdin
	cp key stdin
	compare - --keyed "${files[@]:0:10}" f_20971520
	compare - --keyed -l 50 f_1024
	cp shortkey stdin
	compare 2 --keyed f_1
	cp longkey stdin
	compare 2 --keyed f_1
	: >stdin
	# raw
	for f in f_0 f_65 f_131073; do
		compare - --raw "$f"
		compare - --raw -l 100 "$f"
	done
	compare - --raw -l 0 f_1
	compare 2 --raw f_1 f_0
	# stdin, explicit and implicit, twice in a row
	cp f_131073 stdin
	compare -
	compare - -
	compare - - -
	compare - f_1 - f_65
	compare - --raw
	compare - --no-mmap -
	: >stdin
	# missing files and folders: reported, the others still hashed
	compare - f_1 does-not-exist f_65
	compare - adir f_1
	# check mode
	"$b3cas" hash "${files[@]}" "${odd[@]}" >sums.good
	compare - --check sums.good
	compare - -c --quiet sums.good
	compare - -c sums.good sums.good
	cp sums.good stdin
	compare - -c
	compare - -c -
	: >stdin
	# one wrong hash, one missing file, one folder, bad lines in between
	{
		head -3 sums.good
		echo "0000000000000000000000000000000000000000000000000000000000000000  f_1"
		echo "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262  gone"
		echo "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262  adir"
		echo "garbage"
		echo "AF1349B9F5F9A1A6A0404DEA36DCC9499BCB25C9ADC112B7CC9A93CAE41F3262  f_0"
		echo "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262 f_0"
		echo ""
		echo "\\af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262  f_0"
		echo "\\af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262  f_\\q"
		echo "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262  f_0"
		tail -2 sums.good
	} >sums.bad
	compare - -c sums.bad
	compare - -c --quiet sums.bad
	"$b3cas" hash -l 40 f_1 >sums.long
	compare - -c sums.long
	printf '%s' "$(head -1 sums.good)" >sums.nonl
	compare - -c sums.nonl
	: >sums.empty
	compare - -c sums.empty
	compare - -c no-such-checkfile
	# usage errors: b3sum exits 1, b3cas exits 2 (documented)
	compare 2 --keyed --derive-key x f_1
	compare 2 -c --length 40 sums.good
	compare 2 -c --raw sums.good
	compare 2 -c --no-names sums.good
	compare 2 -c --derive-key x sums.good
	compare 2 --quiet f_1
	compare 2 --length abc f_1
	compare 2 --num-threads abc f_1
	compare 2 --bogus-flag f_1
}

# put_all LEVEL: the ids `b3cas put` prints at the current level, into a
# chunking store (chunks of 1-4 KiB: the 20 MiB files are thousands of
# chunks), equal b3sum's. (cli_store checks a plain store's.)
put_all() {
	local want got
	want=$(b3sum "${files[@]}" "${odd[@]}" | sort)
	rm -rf st
	"$b3cas" --store st init --chunk-avg 2048 --compress >/dev/null
	got=$("$b3cas" --store st put "${files[@]}" "${odd[@]}" | sort)
	compared=$((compared + 1))
	if [[ $got != "$want" ]]; then
		failed=$((failed + 1))
		echo "MISMATCH: put into a chunking store at level $1:"
		diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") |
			head -5
	fi
	rm -rf st
}

levels=(portable sse41 avx2 avx512)
# B3CAS_B3SUM_LEVELS (CI's sanitizer build: "portable best") narrows the
# walk: "best" is the highest level this CPU supports. The kernels are
# checked at every level under the sanitizers by test_kernels anyway.
if [[ -n ${B3CAS_B3SUM_LEVELS:-} ]]; then
	best=$("$b3cas" --version | sed -n 's/.*level: \([a-z0-9]*\)).*/\1/p')
	levels=(${B3CAS_B3SUM_LEVELS/best/$best})
fi
for level in "${levels[@]}"; do
	v=$(B3CAS_SIMD=$level "$b3cas" --version 2>/dev/null)
	if [[ $v != *"level: $level)"* ]]; then
		echo "SIMD level $level: not supported by this CPU, not tested"
		continue
	fi
	echo "SIMD level $level"
	export B3CAS_SIMD=$level
	run_all
	put_all "$level"
	unset B3CAS_SIMD
done

echo "$compared comparisons with b3sum, $failed mismatches"
if ((compared < 100)); then
	echo "FAIL: too few comparisons ran" >&2
	exit 1
fi
((failed == 0))
