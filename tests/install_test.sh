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

/* Hash argv[1], then store it in a new store at argv[2] and read it back:
 * the id must equal the hash and the bytes must come back. */
int main(int argc, char **argv)
{
	b3cas_store_options opts = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *store;
	b3cas_oid id;
	uint8_t out[32];
	char hex[B3CAS_OID_HEX_LEN + 1];
	void *back;
	size_t len;

	if (argc != 3)
		return 2;
	b3cas_hash(out, argv[1], strlen(argv[1]));
	opts.create = true;
	if (b3cas_store_open(&store, argv[2], &opts) != 0 ||
	    b3cas_store_put(store, &id, argv[1], strlen(argv[1])) < 0 ||
	    b3cas_store_get(store, &id, &back, &len) != 0) {
		fprintf(stderr, "store: %s\n", b3cas_error_last());
		return 1;
	}
	if (memcmp(id.bytes, out, 32) != 0 || len != strlen(argv[1]) ||
	    memcmp(back, argv[1], len) != 0)
		return 1;
	b3cas_free(back);
	if (b3cas_store_close(store) != 0)
		return 1;
	printf("%s  -\n", b3cas_oid_fmt(hex, &id));
	return 0;
}
C
want=$(printf 'hello, installed b3cas' | b3sum)
cc "$prefix/use.c" $(pkg-config --cflags --libs b3cas) \
	-Wl,-rpath,"$(pkg-config --variable=libdir b3cas)" -o "$prefix/use_shared"
cc -static "$prefix/use.c" $(pkg-config --static --cflags --libs b3cas) \
	-o "$prefix/use_static" 2> >(grep -v -e 'statically linked applications' -e ': in function' >&2)
for v in shared static; do
	got=$("$prefix/use_$v" 'hello, installed b3cas' "$prefix/store_$v")
	if [[ $got != "$want" ]]; then
		echo "FAIL ($v): got '$got', b3sum says '$want'" >&2
		exit 1
	fi
done
test -x "$prefix/bin/b3cas"
"$prefix/bin/b3cas" --version
echo "installed library works through pkg-config, shared and static"
