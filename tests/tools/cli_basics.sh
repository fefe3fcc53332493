#!/usr/bin/env bash
# cli_basics.sh B3CAS - the b3cas program's own behaviour: global options,
# help, version, unknown commands, exit codes, the B3CAS_SIMD warning.
set -uo pipefail
b3cas=${1:?usage: cli_basics.sh PATH_TO_B3CAS}
. "$(dirname "$0")/cli_lib.sh"

expect 0 '^b3cas [0-9]+\.[0-9]+\.[0-9]+ \(BLAKE3 SIMD level: (portable|sse41|avx2|avx512)\)$' '^$' -- --version
expect 0 'Usage: b3cas' '^$' -- --help
expect 0 'Exit codes' '^$' -- help
expect 0 'Usage: b3cas hash' '^$' -- help hash
expect 0 'Usage: b3cas hash' '^$' -- hash --help
expect 2 '^$' "unknown command 'frobnicate'" -- frobnicate
expect 2 '^$' "unknown command 'nope'" -- help nope
expect 2 '^$' "unknown option '--bogus'" -- --bogus hash
expect 2 '^$' 'Usage: b3cas' --
expect 2 '^$' '--store needs a folder' -- --store
# global options before or after the command
expect 0 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262  /dev/null' '^$' -- --store /tmp hash /dev/null
expect 0 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262  /dev/null' '^$' -- hash --store /tmp /dev/null
expect 0 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262  /dev/null' '^$' -- hash --store=/tmp /dev/null
# after "--", --store is a file name
expect 1 '^$' 'No such file' -- hash -- --store

# B3CAS_SIMD: a bad value warns and the best level is used
out=$(B3CAS_SIMD=bogus "$b3cas" --version 2>&1)
checks=$((checks + 1))
if [[ $out != *"warning: B3CAS_SIMD='bogus'"* ]]; then
	fails=$((fails + 1))
	echo "FAIL: no warning for B3CAS_SIMD=bogus: $out"
fi
best=$("$b3cas" --version)
out=$(B3CAS_SIMD=portable "$b3cas" --version)
checks=$((checks + 1))
if [[ $out != *"level: portable)" ]]; then
	fails=$((fails + 1))
	echo "FAIL: B3CAS_SIMD=portable not honoured: $out"
fi
level=${best##*: }
cli_summary "best level: ${level%)}"
