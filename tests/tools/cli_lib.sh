# cli_lib.sh - what the b3cas program's shell tests share. Source it after
# setting b3cas to the program's path; end with cli_summary.
fails=0
checks=0
_cli_err=$(mktemp)
trap 'rm -f "$_cli_err"' EXIT

# expect CODE STDOUT_PATTERN STDERR_PATTERN -- ARGS...
# Runs b3cas ARGS; the exit code must be CODE and both streams must match
# their (bash, extended) patterns. Sets $out and $err for later checks.
expect() {
	local code=$1 out_pat=$2 err_pat=$3 rc
	shift 4
	out=$("$b3cas" "$@" 2>"$_cli_err") && rc=0 || rc=$?
	err=$(cat "$_cli_err")
	checks=$((checks + 1))
	if [[ $rc != "$code" || ! $out =~ $out_pat || ! $err =~ $err_pat ]]; then
		fails=$((fails + 1))
		echo "FAIL: b3cas $* -> exit $rc (want $code)"
		echo "  stdout: $out"
		echo "  stderr: $err"
	fi
}

# check DESCRIPTION COMMAND...: COMMAND must succeed.
check() {
	local what=$1
	shift
	checks=$((checks + 1))
	if ! "$@"; then
		fails=$((fails + 1))
		echo "FAIL: $what"
	fi
}

cli_summary() {
	echo "$checks checks, $fails failures${1:+ ($1)}"
	((fails == 0))
}

# git_same_repo WHAT SRC COPY: COPY passes `git fsck --full --strict` and
# has SRC's refs (less a clone's symbolic origin/HEAD), HEAD, history and
# reachable objects.
git_same_repo() {
	local what=$1 src=$2 copy=$3
	check "$what: git fsck --full --strict" \
		git -C "$copy" fsck --full --strict --no-dangling
	check "$what: refs" cmp -s \
		<(git -C "$src" for-each-ref | grep -v origin/HEAD) \
		<(git -C "$copy" for-each-ref)
	check "$what: HEAD" test "$(git -C "$src" symbolic-ref HEAD)" = \
		"$(git -C "$copy" symbolic-ref HEAD)"
	check "$what: log --all" cmp -s \
		<(git -C "$src" log --all --format='%H %P %T %an %s') \
		<(git -C "$copy" log --all --format='%H %P %T %an %s')
	check "$what: objects reached" cmp -s \
		<(git -C "$src" rev-list --objects --all | sort) \
		<(git -C "$copy" rev-list --objects --all | sort)
}

# cli_mount_work: for tests that mount file systems. Fails (never skips)
# unless root; makes $work, and an EXIT trap that unmounts every path
# the test adds to mounts=() and removes $work.
cli_mount_work() {
	if [[ $(id -u) != 0 ]]; then
		echo "FAIL: this test mounts file systems and must run as root"
		exit 1
	fi
	work=$(mktemp -d)
	mounts=()
	trap _cli_unmount_all EXIT
}

_cli_unmount_all() {
	for m in "${mounts[@]}"; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	rm -rf "$work" "$_cli_err"
}
