#!/usr/bin/env bash
# bench_cli.sh [B3CAS [FILE]] - whole-process speed of `b3cas hash` against
# Debian's b3sum on a 1 GiB file in the page cache, with all threads and
# with one, median of 5 runs each (hyperfine).
set -euo pipefail
b3cas=${1:-build/b3cas}
file=${2:-}
for tool in b3sum hyperfine "$b3cas"; do
	command -v "$tool" >/dev/null || {
		echo "bench_cli: $tool not found (scripts/deps.sh installs b3sum" \
			"and hyperfine)" >&2
		exit 1
	}
done
if [[ -z $file ]]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	file=$tmp/1GiB.bin
	head -c $((1 << 30)) /dev/urandom >"$file"
fi
cat "$file" >/dev/null # into the page cache
if [[ $("$b3cas" hash "$file") != $(b3sum "$file") ]]; then
	echo "bench_cli: b3cas and b3sum disagree on $file" >&2
	exit 1
fi
for threads in "" "--num-threads 1"; do
	hyperfine -N -w 2 -r 5 --export-json /tmp/bench_cli.$$.json \
		"b3sum $threads $file" "$b3cas hash $threads $file"
	python3 - /tmp/bench_cli.$$.json <<'PY' 2>/dev/null || true
import json, sys
r = json.load(open(sys.argv[1]))["results"]
m = [x["median"] for x in r]
print("medians: b3sum %.1f ms, b3cas %.1f ms: b3cas is %.2fx as fast" %
      (m[0] * 1e3, m[1] * 1e3, m[0] / m[1]))
PY
done
rm -f /tmp/bench_cli.$$.json
