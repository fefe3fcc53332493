#!/usr/bin/env bash
# restore_rate.sh - issue 17's "restore of a 1 GB checkpoint at >= 1 GB/s
# warm": two checkpoints of about 1 GB restored, warm, into a folder on
# WORK's file system and into /dev/shm (tmpfs), beside what the machine
# itself gives for the same bytes in the same run (dd of zeros, one and
# two writers; cp -a of the source tree).
#
# Usage: bench/restore_rate.sh [--tree DIR] [--image-mib N] [--runs N]
#            [--work DIR] BUILD
#   --tree DIR      the tree checkpoint's folder (default /usr/share: on
#                   the Debian 12 base image 1.0-1.2 GB, 57,000 files)
#   --image-mib N   the image checkpoint: a memory image of N MiB
#                   (mem_image template) and a copy of /usr/lib/x86_64-
#                   linux-gnu's first 80 MB of files (default 960)
#   --runs N        restores of each, the first not timed (default 3)
#   --work DIR      store and restores (default $TMPDIR/b3cas-rate); needs
#                   about 3 GB, and 2.5 GB free in /dev/shm
#   BUILD           a build folder holding b3cas and bench/mem_image
# The store is made with `init --chunking --compress`, as a sandbox
# platform's would be. Every restore is compared with its source (diff -r
# of the tree, cmp of the image); the script exits 1 when one differs.
set -euo pipefail
tree=/usr/share
image_mib=960
runs=3
work=${TMPDIR:-/tmp}/b3cas-rate
while (($#)); do
	case $1 in
	--tree) tree=$2; shift 2 ;;
	--image-mib) image_mib=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--work) work=$2; shift 2 ;;
	-h|--help) sed -n '2,21p' "$0"; exit 0 ;;
	-*) echo "restore_rate.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
build=${1:?usage: restore_rate.sh [options] BUILD}
b3cas=$(realpath "$build/b3cas")
mem_image=$(realpath "$build/bench/mem_image")
shm=/dev/shm/b3cas-rate-$$
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$shm" "$work/r" "$work/dd"*' EXIT
st=$work/store
"$b3cas" --store "$st" init --chunking --compress >/dev/null

# the image checkpoint's sandbox: libraries and a memory image
img=$work/img
mkdir -p "$img/rootfs"
n=0
while read -r f; do
	cp -a "$f" "$img/rootfs/" 2>/dev/null || true
	n=$((n + $(stat -c %s "$f")))
	((n < 80000000)) || break
done < <(find /usr/lib/x86_64-linux-gnu -maxdepth 1 -type f | sort)
"$mem_image" template --size $((image_mib << 20)) --seed 1 \
	$(find "$img/rootfs" -name '*.so*' | head -20 | sed 's/^/--elf /') \
	"$img/mem.img" >/dev/null
"$b3cas" --store "$st" checkpoint create image --tree "$img/rootfs" \
	--blob memory="$img/mem.img" >/dev/null
"$b3cas" --store "$st" checkpoint create tree --tree "$tree" >/dev/null
image_bytes=$(($(du -sb --apparent-size "$img/rootfs" | cut -f1) +
	$(stat -c %s "$img/mem.img")))
tree_bytes=$(find "$tree" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
tree_files=$(find "$tree" -type f | wc -l)

secs() { # secs COMMAND...: wall seconds of one run (a failure ends the script)
	local t0 t1
	t0=$(date +%s%N)
	"$@" || { echo "restore_rate.sh: $* failed" >&2; kill -TERM $$; exit 1; }
	t1=$(date +%s%N)
	echo "scale=3; ($t1 - $t0) / 1000000000" | bc
}
restore() { # restore SANDBOX DEST
	rm -rf "$2" "$2.blobs"
	sync
	if [[ $1 == image ]]; then
		"$b3cas" --store "$st" checkpoint restore -q --blobs "$2.blobs" \
			image "$2"
	else
		"$b3cas" --store "$st" checkpoint restore -q tree "$2"
	fi
}
check() { # check SANDBOX DEST
	if [[ $1 == image ]]; then
		diff -r --no-dereference "$img/rootfs" "$2" >/dev/null &&
			cmp -s "$img/mem.img" "$2.blobs/memory"
	else
		diff -r --no-dereference "$tree" "$2" >/dev/null
	fi || { echo "restore_rate.sh: $1 restored into $2 differs" >&2; exit 1; }
}
best() { sort -n | head -1; }
gbps() { echo "scale=2; $1 / $2 / 1000000000" | bc; }

echo "machine: $(uname -m), $(nproc) cores; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "WORK on $(df --output=fstype "$work" | tail -1), $(df --output=source "$work" | tail -1)"
echo
echo "| what | bytes | where | best of $((runs - 1)) s | GB/s |"
echo "|---|---|---|---|---|"
for sb in image tree; do
	[[ $sb == image ]] && bytes=$image_bytes || bytes=$tree_bytes
	for where in "$work/r" "$shm/r"; do
		mkdir -p "$(dirname "$where")"
		restore "$sb" "$where" # warm: not timed
		check "$sb" "$where"
		t=$(for ((i = 1; i < runs; i++)); do
			secs restore "$sb" "$where"
		done | best)
		check "$sb" "$where"
		label=$([[ $where == $shm/* ]] && echo "tmpfs" || echo "WORK")
		what=$([[ $sb == image ]] && echo "checkpoint: ${image_mib} MiB image + libraries" ||
			echo "checkpoint: $tree ($tree_files files)")
		echo "| $what | $bytes | $label | $t | $(gbps "$bytes" "$t") |"
		rm -rf "$where" "$where.blobs"
	done
done
for where in "$work" "$shm"; do
	label=$([[ $where == "$shm" ]] && echo "tmpfs" || echo "WORK")
	mkdir -p "$where"
	rm -f "$where/dd"*; sync
	t=$(secs dd if=/dev/zero of="$where/dd" bs=1M count=1024 status=none)
	echo "| dd of zeros, one writer | 1073741824 | $label | $t | $(gbps 1073741824 "$t") |"
	rm -f "$where/dd"*; sync
	t=$(secs bash -c "dd if=/dev/zero of='$where/dd1' bs=1M count=512 status=none &
		dd if=/dev/zero of='$where/dd2' bs=1M count=512 status=none; wait")
	echo "| dd of zeros, two writers | 1073741824 | $label | $t | $(gbps 1073741824 "$t") |"
	rm -f "$where/dd"*
	rm -rf "$where/cp"; sync
	t=$(secs cp -a "$tree" "$where/cp")
	echo "| cp -a $tree | $tree_bytes | $label | $t | $(gbps "$tree_bytes" "$t") |"
	rm -rf "$where/cp"
done
rm -rf "$shm"
