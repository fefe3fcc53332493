#!/usr/bin/env bash
# cli_gc_immutable.sh B3CAS - GC and repair agree about what was deleted
# (issue 13, item 5): an object's last reference is removed, its file is
# made immutable (chattr +i), so gc cannot unlink it: gc exits 3 naming
# the file, the object stays a GC candidate (not stored, no reference),
# fsck finds nothing, fsck --repair brings nothing back, and once the file
# can go a gc removes it. The store is made in a folder of the test's own
# under /tmp; a file system there without chattr +i is a failure (the
# test needs it; Debian 12's ext4 and tmpfs have it), not a skip.
set -uo pipefail
b3cas=${1:?usage: cli_gc_immutable.sh PATH_TO_B3CAS}
. "$(dirname "$0")/cli_lib.sh"
for tool in chattr lsattr head; do
	command -v $tool >/dev/null || {
		echo "FAIL: $tool is missing (scripts/deps.sh installs it)"
		exit 1
	}
done

work=$(mktemp -d)
st=$work/store
cleanup() {
	chattr -R -i "$work" 2>/dev/null
	rm -rf "$work" "$_cli_err"
}
trap cleanup EXIT

expect 0 '' '^$' -- --store "$st" init
head -c 200000 /dev/urandom >"$work/big"
expect 0 '^[0-9a-f]{64}  ' '^$' -- --store "$st" put "$work/big"
id=${out:0:64}
file=$st/objects/${id:0:2}/$id
check "the object is a loose file" test -f "$file"
expect 0 '' '^$' -- --store "$st" rm "$id"
if ! chattr +i "$file"; then
	echo "FAIL: chattr +i does not work on $work's file system"
	exit 1
fi
check "the file is immutable" bash -c "lsattr '$file' | grep -q '^[^ ]*i'"

# gc cannot unlink the file: an error that names it, and the object stays
# a candidate (still no reference), never an orphan.
expect 3 'removed 0 objects' "1 object file could not be removed.*stays a GC candidate.*$id" \
	-- --store "$st" gc --grace 0
expect 1 '' 'not stored' -- --store "$st" stat "$id"
# A check finds nothing wrong: a candidate with its file is no damage.
expect 0 '' '^$' -- --store "$st" fsck
# Repair brings nothing back.
expect 0 '' '^$' -- --store "$st" fsck --repair
expect 1 '' 'not stored' -- --store "$st" stat "$id"
expect 1 '' '' -- --store "$st" exists "$id"
# Once the file can go, gc removes the object for good.
chattr -i "$file"
expect 0 'removed 1 object' '^$' -- --store "$st" gc --grace 0
check "the file is gone" test ! -e "$file"
expect 1 '' 'not stored' -- --store "$st" stat "$id"
expect 0 '' '^$' -- --store "$st" fsck
cli_summary "gc with an immutable file"
