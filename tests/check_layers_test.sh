#!/bin/bash
# check_layers_test.sh - scripts/check_layers.sh passes on the tree as it
# is, and fails, naming the fault, on copies of the tree each given one
# violation: an upward include (from layout/ and from chunk/), struct b3cas_store reached from outside
# src/store/, the CLI including an internal header, an include cycle
# between two folders of one layer, and a folder with no layer.
set -u
root=$1
script=$root/scripts/check_layers.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
check() { # what, then a command that must succeed
	local what=$1
	shift
	if "$@"; then
		echo "ok: $what"
	else
		echo "FAIL: $what"
		fails=$((fails + 1))
	fi
}

out=$(bash "$script" "$root" 2>&1); rc=$?
check "the tree passes ($out)" test "$rc" = 0
check "and the report lists folder dependencies" grep -q ' -> ' <<<"$out"

copy() {
	rm -rf "$work/t"
	mkdir -p "$work/t"
	cp -r "$root/src" "$root/tools" "$work/t/"
}
expect_fail() { # what, pattern the report must contain
	local out rc
	out=$(bash "$script" --quiet "$work/t" 2>&1); rc=$?
	check "$1 fails the check (rc $rc)" test "$rc" = 1
	check "$1 is named ($out)" grep -q "$2" <<<"$out"
}

copy
sed -i '0,/^#include "/s//#include "store\/store_int.h"\n#include "/' "$work/t/src/layout/path.c"
expect_fail "layout/ including store/" 'layout/path.c includes "store/store_int.h": layer mechanisms'

copy
sed -i '0,/^#include "/s//#include "store\/store_int.h"\n#include "/' "$work/t/src/chunk/fastcdc.c"
expect_fail "chunk/ including store/" 'chunk/fastcdc.c includes "store/store_int.h": layer mechanisms'

copy
sed -i '0,/^#include "/s//#include "maint\/integrity_int.h"\n#include "/' "$work/t/src/store/put.c"
expect_fail "store/ including maint/" 'may not include layer maintenance'

copy
sed -i '0,/^#include "/s//#include "store\/handle.h"\n#include "/' "$work/t/src/maint/gc.c"
expect_fail "maint/ including store/handle.h" 'private to src/store/'

copy
sed -i '0,/^#include "/s//#include "util\/error.h"\n#include "/' "$work/t/tools/main.c"
expect_fail "tools/ including an internal header" 'public API'

copy
printf '#include "filter/known.h"\n' >>"$work/t/src/stripe/stripes.h"
expect_fail "a cycle between filter/ and stripe/" 'cycle'

copy
mkdir -p "$work/t/src/newthing"
printf '#include "util/error.h"\n' >"$work/t/src/newthing/a.c"
expect_fail "a folder with no layer" "folder 'newthing' has no layer"

echo "$fails failed"
test "$fails" = 0
