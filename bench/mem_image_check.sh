#!/usr/bin/env bash
# mem_image_check.sh MEM_IMAGE - the ctest of bench/mem_image: the same
# seed gives the same template, fork keeps an image's size and changes it
# (and --changes writes the rewritten pages and inserted bytes apart),
# patch grows a file by what it inserts (2 to 32 bytes for 2 insertions).
set -euo pipefail
m=${1:?usage: mem_image_check.sh MEM_IMAGE}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT

fail() {
	echo "mem_image_check: $*" >&2
	exit 1
}

"$m" template --size 65536 --seed 3 --elf "$m" "$d/t"
"$m" template --size 65536 --seed 3 --elf "$m" "$d/u"
cmp -s "$d/t" "$d/u" || fail "two templates of one seed differ"
"$m" fork --seed 4 --pages 10 --inserts 2 "$d/t" "$d/f"
(($(stat -c %s "$d/f") == 65536)) || fail "fork changed the image's size"
cmp -s "$d/t" "$d/f" && fail "fork changed nothing"
# the same fork, its changes written apart: the same image, and 1 page
# (10% of 16, rounded down) plus 2 to 32 inserted bytes
"$m" fork --seed 4 --pages 10 --inserts 2 --changes "$d/c" "$d/t" "$d/g"
cmp -s "$d/f" "$d/g" || fail "--changes changed the fork"
changed=$(($(stat -c %s "$d/c") - 4096))
((changed >= 2 && changed <= 32)) || fail "--changes wrote $changed bytes past the pages"
"$m" patch --seed 5 --spots 2 --inserts 2 "$d/t" "$d/p"
grown=$(($(stat -c %s "$d/p") - 65536))
((grown >= 2 && grown <= 32)) || fail "patch grew the file by $grown bytes"
echo "mem_image_check: ok"
