#!/usr/bin/env bash
# deps.sh - install the Debian 12 packages b3cas needs to build, test and
# benchmark. Shared by setup-and-demo.sh and test.sh; safe to run again
# (installs only what is missing). Needs root or sudo.
set -euo pipefail

PACKAGES=(
	build-essential cmake pkg-config git
	clang libclang-rt-14-dev   # sanitizers with clang, libFuzzer
	libssl-dev                 # OpenSSL SHA-256/SHA-1 baselines, sha256 mode
	librocksdb-dev             # the index
	libzstd-dev                # compression of chunks and small objects
	zlib1g-dev                 # git export: git's loose objects
	libgit2-dev                # b3cas-git2: the libgit2 object database backend
	librados-dev               # the RADOS object tier (librados is loaded at run time)
	ceph-mon ceph-osd ceph-base ceph-common   # the tests' one-node cluster (scripts/ceph-dev.sh)
	libcmocka-dev libjansson-dev   # unit tests, official test vectors
	b3sum                      # reference for the differential CLI test
	hyperfine                  # whole-process CLI benchmark
	util-linux coreutils       # setpriv, truncate, env --default-signal: CLI tests
	e2fsprogs mount            # chattr: gc meeting an immutable file; mkfs.ext4, mount: the full-disk test
	prometheus                 # promtool checks `b3cas stats --prometheus`
	jq                         # reads the CLI tests' JSON lines and findings
	time                       # /usr/bin/time: peak memory of git import/export (cli_git.sh)
)

. "$(dirname "$0")/apt_install.sh"
apt_install deps "${PACKAGES[@]}"
