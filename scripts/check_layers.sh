#!/bin/bash
# check_layers.sh - the layer rule of docs/architecture.md, checked on the
# include graph of src/ and tools/:
#   1. an include never goes up a layer (a folder includes only headers of
#      its own layer or of lower ones; public headers b3cas/*.h are the API
#      and may be included anywhere);
#   2. store/handle.h (struct b3cas_store) is included only inside
#      src/store/, and the CLI (tools/) includes only the public headers
#      and its own;
#   3. no cycle among folders, and none among files.
# Run by the build before any library code compiles (CMake target
# check_layers) and by ctest; prints what it found (with --quiet, only
# violations) and exits 1 on a violation.
# Usage: check_layers.sh [--quiet] [PROJECT_ROOT]
set -u
quiet=0
if [ "${1:-}" = --quiet ]; then
	quiet=1
	shift
fi
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2

# folder -> layer rank (and name); keep in step with docs/architecture.md
declare -A rank=(
	[util]=0
	[blake3]=1 [digest]=1
	[index]=2 [cache]=2 [layout]=2 [filter]=2 [stripe]=2 [chunk]=2
	[compress]=2
	[tier]=3
	[store]=4
	[model]=5
	[maint]=6
	[git2]=7
	[tools]=8
)
names=(util hash mechanisms tier store model maintenance bridges cli)

fail=0
folder_edges=$(mktemp)
file_edges=$(mktemp)
trap 'rm -f "$folder_edges" "$file_edges"' EXIT

# Every source file, as folder/name (tools/ files as tools/name).
mapfile -t files < <(cd src && find . -name '*.[ch]' | sed 's#^\./##' | sort;
		     find ../tools -maxdepth 1 -name '*.[ch]' | sed 's#^\.\./##' | sort)
paths=()
for f in "${files[@]}"; do
	case $f in
	tools/*) path=$f ;;
	*) path=src/$f ;;
	esac
	from=${f%%/*}
	if [ -z "${rank[$from]+x}" ]; then
		echo "check_layers: $path: folder '$from' has no layer (add it to scripts/check_layers.sh and docs/architecture.md)"
		fail=1
		continue
	fi
	echo "$f $f" >>"$file_edges"
	paths+=("$path")
done

# Every quoted include of every file, "PATH INCLUDE" a line, from one awk
# (a sed a file took most of this script's time).
while read -r path inc; do
	f=${path#src/}
	from=${f%%/*}
	case $inc in
	b3cas/*) continue ;;             # the public API
	*/*) to=${inc%%/*}; target=$inc ;;
	*) to=$from; target=$from/$inc ;; # same folder
	esac
	if [ -z "${rank[$to]+x}" ]; then
		continue
	fi
	echo "$f $target" >>"$file_edges"
	if [ "$to" != "$from" ]; then
		echo "$from $to" >>"$folder_edges"
	fi
	if [ "${rank[$to]}" -gt "${rank[$from]}" ]; then
		echo "check_layers: $path includes \"$inc\": layer ${names[${rank[$from]}]} ($from/) may not include layer ${names[${rank[$to]}]} ($to/) above it"
		fail=1
	fi
	if [ "$from" = tools ] && [ "$to" != tools ]; then
		echo "check_layers: $path includes \"$inc\": the CLI is built on the public API (b3cas/*.h) only"
		fail=1
	fi
	if [ "$from" = git2 ] && [ "$to" != git2 ]; then
		echo "check_layers: $path includes \"$inc\": the libgit2 backend is built on the public API (b3cas/*.h) only"
		fail=1
	fi
	if [ "$target" = store/handle.h ] && [ "$from" != store ]; then
		echo "check_layers: $path includes \"store/handle.h\": struct b3cas_store is private to src/store/; use the functions of store/store_int.h"
		fail=1
	fi
done < <(((${#paths[@]})) && awk '
	/^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*"/ {
		line = $0
		sub(/^[^"]*"/, "", line)
		sub(/".*/, "", line)
		print FILENAME, line
	}' "${paths[@]}")

if ! sort -u "$folder_edges" | tsort >/dev/null 2>"$folder_edges.err"; then
	echo "check_layers: the folders include each other in a cycle:"
	sed 's/^/  /' "$folder_edges.err"
	fail=1
fi
rm -f "$folder_edges.err"
if ! sort -u "$file_edges" | tsort >/dev/null 2>"$file_edges.err"; then
	echo "check_layers: the files include each other in a cycle:"
	sed 's/^/  /' "$file_edges.err"
	fail=1
fi
rm -f "$file_edges.err"

if [ "$fail" = 0 ] && [ "$quiet" = 0 ]; then
	echo "check_layers: ${#files[@]} files, $(sort -u "$folder_edges" | wc -l) folder dependencies, all downward or within a layer, no cycle"
	sort -u "$folder_edges" | while read -r a b; do
		printf '  %-7s (%s) -> %-7s (%s)\n' "$a" "${names[${rank[$a]}]}" "$b" "${names[${rank[$b]}]}"
	done
fi
exit $fail
