#!/usr/bin/env bash
# install_test.sh BUILD_DIR - `cmake --install` into a temporary prefix,
# then build a small program against the installed library through
# pkg-config, shared and static, and check what it prints against b3sum.
set -euo pipefail
build=${1:?usage: install_test.sh BUILD_DIR}
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT

cmake --install "$build" --prefix "$prefix" >/dev/null
pc=$(dirname "$(find "$prefix" -name b3cas.pc)")
export PKG_CONFIG_PATH=$pc
cat >"$prefix/use.c" <<'C'
#include <b3cas/b3cas.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	uint8_t out[32];

	b3cas_hash(out, argv[1], strlen(argv[1]));
	for (int i = 0; i < 32; i++)
		printf("%02x", out[i]);
	printf("  -\n");
	return argc == 2 ? 0 : 1;
}
C
want=$(printf 'hello, installed b3cas' | b3sum)
cc "$prefix/use.c" $(pkg-config --cflags --libs b3cas) \
	-Wl,-rpath,"$(pkg-config --variable=libdir b3cas)" -o "$prefix/use_shared"
cc -static "$prefix/use.c" $(pkg-config --static --cflags --libs b3cas) \
	-o "$prefix/use_static"
for v in shared static; do
	got=$("$prefix/use_$v" 'hello, installed b3cas')
	if [[ $got != "$want" ]]; then
		echo "FAIL ($v): got '$got', b3sum says '$want'" >&2
		exit 1
	fi
done
test -x "$prefix/bin/b3cas"
"$prefix/bin/b3cas" --version
echo "installed library works through pkg-config, shared and static"
