#!/usr/bin/env bash
# cli_options.sh B3CAS - every command's --help against its parser. Both
# come from one option table (tools/opt.h); this checks that they agree,
# from the outside, for each command `b3cas --help` lists:
#  - `b3cas help CMD` is `b3cas CMD --help`, and the command is listed once;
#  - each option in the Options section is listed once, and the usage line
#    names the same options in the same order (-h aside);
#  - the parser accepts each listed option in each form it has (--name,
#    --name=VALUE, --name VALUE, -x VALUE, -xVALUE), refuses a missing
#    value and a value given to a flag with exit 2;
#  - an unknown long option and an unknown letter are refused with exit 2,
#    the option named and a pointer to CMD --help;
#  - the global options `b3cas --help` lists are accepted before the
#    command, and --store and --wait after it too.
# An option is proved accepted by following it with --help: the parser
# reads it first and stops at --help with exit 0; an option it does not
# know would stop it with exit 2 before.
set -uo pipefail
b3cas=${1:?usage: cli_options.sh PATH_TO_B3CAS}
. "$(dirname "$0")/cli_lib.sh"
# No command may run: each stops at --help or at a usage error. Work in an
# empty folder and point at a store inside it, so that a parser slip that
# lets one run (an init taking "--help" for a folder) is seen at the end.
b3cas=$(realpath -- "$b3cas")
work=$(mktemp -d)
trap 'rm -rf "$work" "$_cli_err"' EXIT
cd "$work" || exit 1
export B3CAS_STORE=$work/store

# A value the option's parser accepts, from the name its help gives it.
value_for() {
	case $1 in
	*'|'*) echo "${1%%|*}" ;;
	N | LEN | BYTES | MB/s) echo 1 ;;
	DURATION) echo 1s ;;
	*) echo x ;;
	esac
}

# The commands, from the top-level help: "  NAME  summary" lines under
# "Commands:".
mapfile -t cmds < <("$b3cas" --help | sed -n '/^Commands:/,/^$/p' |
	sed -n 's/^  \([a-z]\+\) .*/\1/p')
check "b3cas --help lists commands (${#cmds[@]})" test ${#cmds[@]} -ge 15
dup=$(printf '%s\n' "${cmds[@]}" | sort | uniq -d)
check "no command is listed twice ($dup)" test -z "$dup"

# The program's own options, from the "Global options" section of
# `b3cas --help`: each is accepted before the command, and --store and
# --wait also after it.
mapfile -t rows < <("$b3cas" --help | sed -n '/^Global options/,/^$/p' |
	grep -E '^  (-[a-zA-Z], |    )--[a-z]')
check "b3cas --help lists global options (${#rows[@]})" test ${#rows[@]} -ge 4
for row in "${rows[@]}"; do
	[[ $row =~ ^\ \ (-([a-zA-Z]),\ |\ \ \ \ )--([a-z-]+)(\[=([^] ]+)\]|\ ([^ ]+))? ]] || continue
	name=${BASH_REMATCH[3]} optional=${BASH_REMATCH[5]} value=${BASH_REMATCH[6]}
	case $name in
	help | version) continue ;;
	esac
	if [[ -n $optional ]]; then
		args=("--$name=$(value_for "$optional")")
		expect 0 '^Usage: b3cas' '^$' -- "--$name" --help
	else
		args=("--$name" "$(value_for "$value")")
		expect 2 '^$' "--$name.*Try 'b3cas --help'" -- "--$name"
	fi
	expect 0 '^Usage: b3cas' '^$' -- "${args[@]}" --help
	expect 0 '^Usage: b3cas .*ls ' '^$' -- ls "${args[@]}" --help
done
expect 2 '^$' "unknown option '--no-such-option'.*Try 'b3cas --help'" -- --no-such-option

for cmd in "${cmds[@]}"; do
	expect 0 "^Usage: b3cas .*$cmd" '^$' -- "$cmd" --help
	help=$out
	expect 0 '' '^$' -- help "$cmd"
	check "$cmd: 'help $cmd' is '$cmd --help'" test "$out" = "$help"

	# "  -x, --name VALUE   text" or "      --name VALUE   text"
	mapfile -t rows < <(sed -n '/^Options:/,/^$/p' <<<"$help" |
		grep -E '^  (-[a-zA-Z], |    )--[a-z]')
	names=()
	for row in "${rows[@]}"; do
		[[ $row =~ ^\ \ (-([a-zA-Z]),\ |\ \ \ \ )--([a-z0-9-]+)(\ ([^ ]+))? ]] || continue
		names+=("${BASH_REMATCH[3]}")
		letter=${BASH_REMATCH[2]} name=${BASH_REMATCH[3]}
		value=${BASH_REMATCH[5]}
		check "$cmd: --help lists --$name once" \
			test "$(grep -cE "^  (-., |    )--$name( |$)" <<<"$help")" = 1
		[[ $name == help ]] && continue
		if [[ -z $value ]]; then
			expect 0 "^Usage: b3cas" '^$' -- "$cmd" "--$name" --help
			[[ -n $letter ]] &&
				expect 0 "^Usage: b3cas" '^$' -- "$cmd" "-$letter" --help
			expect 2 '^$' "option '--$name' takes no value.*Try 'b3cas $cmd --help'" \
				-- "$cmd" "--$name=1"
			continue
		fi
		v=$(value_for "$value")
		expect 0 "^Usage: b3cas" '^$' -- "$cmd" "--$name" "$v" --help
		expect 0 "^Usage: b3cas" '^$' -- "$cmd" "--$name=$v" --help
		if [[ -n $letter ]]; then
			expect 0 "^Usage: b3cas" '^$' -- "$cmd" "-$letter" "$v" --help
			expect 0 "^Usage: b3cas" '^$' -- "$cmd" "-$letter$v" --help
		fi
		expect 2 '^$' "option '--$name' needs a value.*Try 'b3cas $cmd --help'" \
			-- "$cmd" "--$name"
	done
	check "$cmd: --help lists -h, --help" test "${names[-1]:-}" = help

	# The usage line (and its continuation lines) names the same options,
	# after the global --store.
	usage=$(sed -n '1,/^$/p' <<<"$help" | sed 's/^Usage: b3cas \[--store DIR\]//')
	listed=$(grep -oE '\[--[a-z0-9-]+' <<<"$usage" | sed 's/^\[--//')
	want=$(printf '%s\n' "${names[@]}" | grep -vx help)
	check "$cmd: the usage line names the options of the Options section" \
		test "$listed" = "$want"

	expect 2 '^$' "unknown option '--no-such-option'.*Try 'b3cas $cmd --help'" \
		-- "$cmd" --no-such-option
	expect 2 '^$' "unknown option '-Z'.*Try 'b3cas $cmd --help'" -- "$cmd" -Z
done

check "no command ran: nothing was made ($(ls -A "$work"))" \
	test -z "$(ls -A "$work")"
cli_summary
