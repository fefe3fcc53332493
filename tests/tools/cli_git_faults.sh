#!/usr/bin/env bash
# cli_git_faults.sh B3CAS - `b3cas git import` when something fails under
# it (needs root: size-limited tmpfs mounts; fails, never skips, without
# them). After each failure the import exits 3 with the cause named, no
# command dies of a signal, `b3cas fsck` (which re-hashes every mapped
# object with git's hash) finds nothing wrong, every object the store
# maps reads back as git gives it, no ref is named, and once the cause is
# gone the same import finishes and its export is the repository's
# (`git fsck --full --strict`, refs, HEAD, history, reachable objects).
#   - a full disk: the store on a 24 MiB tmpfs, the repository 40 MB of
#     random blobs over five commits; then the tmpfs grown to 256 MiB;
#   - a corrupt repository: a loose object's file overwritten with
#     garbage, so that git cat-file fails in the middle of the import;
#     then the object's file put back;
#   - the store's folder made read-only under a running import is not
#     tried (root writes anyway); the kills of cli_git_crash cover an
#     import stopped at any point.
set -uo pipefail
b3cas=${1:?usage: cli_git_faults.sh PATH_TO_B3CAS}
b3cas=$(realpath "$b3cas")
. "$(dirname "$0")/cli_lib.sh"
cli_mount_work
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com \
	GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com \
	GIT_CONFIG_NOSYSTEM=1 HOME=$work

# import ST REPO: b3cas git import; sets $rc, $out, $err; a signal exit
# is a failure of its own.
import() {
	out=$("$b3cas" --store "$1" git import "$2" 2>"$_cli_err") && rc=0 ||
		rc=$?
	err=$(cat "$_cli_err")
	checks=$((checks + 1))
	if ((rc >= 128)); then
		fails=$((fails + 1))
		echo "FAIL: git import died of signal $((rc - 128))"
	fi
}

# consistent WHAT ST REPO: fsck clean; every object the store maps reads
# back as git gives it; no ref of the repository named.
consistent() {
	local what=$1 st=$2 r=$3 mapped
	expect 0 ' 0 problems$' '' -- --store "$st" fsck
	git -C "$r" cat-file --batch-all-objects --batch-check='%(objectname)' \
		> "$work/ids"
	"$b3cas" --store "$st" git cat-file --batch-check < "$work/ids" |
		grep -v ' missing$' | cut -d' ' -f1 > "$work/mapped"
	mapped=$(wc -l < "$work/mapped")
	check "$what: the mapped objects ($mapped) read back as git's" cmp -s \
		<(git -C "$r" cat-file --batch < "$work/mapped") \
		<("$b3cas" --store "$st" git cat-file --batch < "$work/mapped")
	expect 1 '' 'no repository' -- --store "$st" git export \
		"$work/none-$RANDOM"
}

# finished WHAT ST REPO: the import done, its export the repository.
finished() {
	local what=$1 st=$2 r=$3 ex=$work/export-$RANDOM
	check "$what: the rerun finishes (exit $rc: $err)" test "$rc" = 0
	expect 0 '^git export: ' '' -- --store "$st" git export "$ex"
	git_same_repo "$what: the export" "$r" "$ex"
	expect 0 ' 0 problems$' '' -- --store "$st" fsck
}

# ---- a full disk ---------------------------------------------------------
r=$work/big
git init -q -b main "$r"
for i in 1 2 3 4 5; do
	head -c $((8 << 20)) /dev/urandom > "$r/blob$i"
	echo "text $i" > "$r/t$i"
	git -C "$r" add -A && git -C "$r" commit -q -m "commit $i"
done
mnt=$work/mnt
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=24m tmpfs "$mnt"; then
	echo "FAIL: cannot mount a tmpfs"
	exit 1
fi
mounts+=("$mnt")
st=$mnt/store
expect 0 '' '' -- --store "$st" init
import "$st" "$r"
check "full disk: exit 3 (got $rc)" test "$rc" = 3
check "full disk: the cause named ($err)" grep -qi 'disk full\|no space' \
	<<<"$err"
echo "note: full disk: $err"
consistent "full disk" "$st" "$r"
mount -o remount,size=256m "$mnt"
import "$st" "$r"
finished "full disk" "$st" "$r"

# ---- a corrupt repository ------------------------------------------------
r=$work/corrupt
git init -q -b main "$r"
for i in $(seq 1 30); do
	echo "file $i $RANDOM" > "$r/f$i"
	git -C "$r" add -A && git -C "$r" commit -q -m "commit $i"
done
# a blob of the middle of the history, its loose file garbled
blob=$(git -C "$r" rev-parse HEAD~15:f10)
file=$r/.git/objects/${blob:0:2}/${blob:2}
cp "$file" "$work/saved"
chmod u+w "$file"
head -c 60 /dev/urandom > "$file"
st=$work/store2
expect 0 '' '' -- --store "$st" init
import "$st" "$r"
check "corrupt repository: exit 3 (got $rc)" test "$rc" = 3
check "corrupt repository: git's failure named ($err)" \
	grep -q "git cannot read object $blob" <<<"$err"
echo "note: corrupt repository: $err"
cp "$work/saved" "$file"
consistent "corrupt repository" "$st" "$r"
import "$st" "$r"
finished "corrupt repository" "$st" "$r"
cli_summary
