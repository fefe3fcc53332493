#!/usr/bin/env bash
# as_user.sh PROGRAM - run a test program as a normal user (nobody,
# through setpriv), from a copy in a folder anyone may read: the build
# folder may not be. Issue 17's restores must hold "as root and as a
# normal user". Needs root, as CI runs; fails, never skips, otherwise.
set -euo pipefail
prog=${1:?usage: as_user.sh PROGRAM}
if [[ $(id -u) != 0 ]]; then
	echo "FAIL: as_user.sh needs root to become nobody; CI runs as root" >&2
	exit 1
fi
command -v setpriv >/dev/null || { echo "FAIL: setpriv is missing (scripts/deps.sh installs util-linux)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$prog" "$dir/"
chmod 755 "$dir" "$dir/$(basename "$prog")"
cd /tmp
setpriv --reuid=65534 --regid=65534 --clear-groups \
	env HOME=/tmp "$dir/$(basename "$prog")"
