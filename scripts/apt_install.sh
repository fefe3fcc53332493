#!/usr/bin/env bash
# apt_install.sh - sourced by deps.sh and bench_deps.sh: apt_install LABEL
# PACKAGE... installs the Debian packages among PACKAGE... that are not
# installed yet (with sudo when not root), and says so under LABEL.
# Returns at once when all are present; fails when some are missing and
# neither root nor sudo can install them.

apt_install() {
	local label=$1 p
	local -a missing=() sudo=()

	shift
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed"; then
			missing+=("$p")
		fi
	done
	if ((${#missing[@]} == 0)); then
		echo "$label: all $# packages present"
		return 0
	fi
	if [[ $(id -u) -ne 0 ]]; then
		if ! command -v sudo >/dev/null; then
			echo "$label: missing packages: ${missing[*]}" >&2
			echo "$label: run as root (or install sudo) to install them" >&2
			return 1
		fi
		sudo=(sudo)
	fi
	echo "$label: installing ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
