#!/usr/bin/env bash
# bench_deps.sh - install the Debian 12 packages that only the comparison
# benchmarks need (bench/compare_stores.sh, bench/sandbox_corpus.sh,
# bench/checkpoint_series.sh, bench/mem_series.sh): the
# other stores measured beside b3cas, GNU time for CPU seconds and peak
# RSS, and the tools that build the corpus. Kept apart from deps.sh so
# that CI never installs them. Safe to run again: installs only what is
# missing. Needs root or sudo.
set -euo pipefail

PACKAGES=(
	borgbackup   # borg 1.2: buzhash chunking, zstd
	restic       # restic 0.14: 1 MiB average chunks
	casync       # casync: 16 and 64 KiB average chunks
	time         # /usr/bin/time -v: user+sys seconds and peak RSS
	dpkg         # dpkg-deb -x: the corpus's base trees (apt-get download)
	tar gzip     # tar checkpoints of the corpus
	zstd         # zstd -3 of the changed bytes: issue 17's yardstick
)

. "$(dirname "$0")/apt_install.sh"
apt_install bench_deps "${PACKAGES[@]}"
