#!/usr/bin/env bash
# cli_store.sh B3CAS - the store commands end to end: init, put, get,
# exists, rm, ls, stat, their --json forms, how the store folder is chosen,
# and the SHA-256 comparison mode. Ids are checked against b3sum and
# sha256sum (independent implementations), bytes against the originals.
set -uo pipefail
b3cas=${1:?usage: cli_store.sh PATH_TO_B3CAS}
. "$(dirname "$0")/cli_lib.sh"
for tool in b3sum sha256sum cmp head promtool; do
	command -v $tool >/dev/null || {
		echo "FAIL: $tool is missing (scripts/deps.sh installs it)"
		exit 1
	}
done

work=$(mktemp -d)
trap 'rm -rf "$work" "$_cli_err"' EXIT
st=$work/store
files=$work/files
mkdir -p "$files"
hex64='[0-9a-f]{64}'

# ---- init ----
expect 0 '^Created b3cas store .*/store \(hash blake3, inline threshold 65536 bytes, objects in .*/store/objects\)$' '^$' -- --store "$st" init
expect 1 '^$' 'already a b3cas store .*nothing changed' -- --store "$st" init
expect 0 '"hash":"sha256"' 'note: .*SHA-256.*comparison' -- --store "$work/sha" init --hash sha256 --json
expect 2 '^$' "hash" -- --store "$work/bad" init --hash md5
expect 2 '^$' 'inline' -- --store "$work/bad" init --inline-threshold 99999999
expect 2 '^$' 'inline' -- --store "$work/bad" init --inline-threshold 12x
check "a refused init creates nothing" test ! -e "$work/bad"
mkdir "$work/full" && echo keep >"$work/full/mine"
expect 3 '^$' 'not empty|not a b3cas store' -- --store "$work/full" init
check "a refused init leaves other files alone" grep -q keep "$work/full/mine"
check "init writes b3cas.conf" grep -q '^format_version = 1$' "$st/b3cas.conf"
check "init makes objects/00..ff" test -d "$st/objects/00" -a -d "$st/objects/ff"

# ---- put: ids equal b3sum's, of every size class ----
# 0 bytes, tiny, just under/at/over the 64 KiB inline threshold, 1 MiB + 1
sizes=(0 1 1000 65535 65536 65537 1048577)
for n in "${sizes[@]}"; do
	head -c "$n" /dev/urandom >"$files/f$n"
done
expect 0 '' '^$' -- --store "$st" put "$files"/f*
want=$(cd "$files" && b3sum f* | sed "s|  |  $files/|")
got=$(printf '%s\n' "$out" | sort -k2)
want=$(printf '%s\n' "$want" | sort -k2)
check "put prints '<id>  <file>' equal to b3sum's lines" test "$got" = "$want"
printf '%s\n' "$out" >"$work/sums"
check "b3sum -c accepts put's output" b3sum -c --quiet "$work/sums"

declare -A id
for n in "${sizes[@]}"; do
	id[$n]=$(b3sum --no-names "$files/f$n")
done

# standard input: a bare id
expect 0 "^${id[1000]}\$" '^$' -- --store "$st" put <"$files/f1000"
expect 0 "^${id[1]}\$" '^$' -- --store "$st" put --no-names "$files/f1"
expect 0 "^\\{\"id\":\"${id[65535]}\",\"name\":\"$files/f65535\",\"size\":65535,\"duplicate\":true\\}\$" '^$' \
	-- --store "$st" put --json "$files/f65535"
# '-' is standard input among files
expect 0 "^${id[0]}  -\$" '^$' -- --store "$st" put - </dev/null

# where each one went: inline in the index up to the threshold, loose after
for n in 0 1 1000 65535 65536; do
	expect 0 'storage: inline' '^$' -- --store "$st" stat "${id[$n]}"
	check "f$n has no loose file" test ! -e "$st/objects/${id[$n]:0:2}/${id[$n]}"
done
for n in 65537 1048577; do
	expect 0 'storage: loose' '^$' -- --store "$st" stat "${id[$n]}"
	check "f$n is a loose file" test -f "$st/objects/${id[$n]:0:2}/${id[$n]}"
	check "f$n's loose file holds its bytes" cmp -s "$files/f$n" "$st/objects/${id[$n]:0:2}/${id[$n]}"
done

# ---- get ----
for n in "${sizes[@]}"; do
	"$b3cas" --store "$st" get "${id[$n]}" >"$work/out" 2>"$_cli_err"
	check "get f$n gives its bytes back" cmp -s "$files/f$n" "$work/out"
	rm -f "$work/got"
	expect 0 '^$' '^$' -- --store "$st" get "${id[$n]}" -o "$work/got"
	check "get -o f$n writes its bytes" cmp -s "$files/f$n" "$work/got"
done
echo old >"$work/keepme"
expect 1 '^$' 'is not stored' -- --store "$st" get "$(printf '0%.0s' {1..64})" -o "$work/keepme"
check "a failed get -o leaves the file as it was" grep -qx old "$work/keepme"
# upper case ids are accepted
expect 0 '' '^$' -- --store "$st" exists "${id[1000]^^}"

# ---- exists ----
expect 0 '^$' '^$' -- --store "$st" exists "${id[0]}" "${id[1048577]}"
absent=$(echo absent | b3sum --no-names)
expect 1 '^$' '^$' -- --store "$st" exists "${id[0]}" "$absent"
expect 1 "^\\{\"id\":\"${id[0]}\",\"exists\":true\\}
\\{\"id\":\"$absent\",\"exists\":false\\}\$" '^$' -- --store "$st" exists --json "${id[0]}" "$absent"

# ---- references: a duplicate put adds one, rm removes one ----
expect 0 'refs: 2' '^$' -- --store "$st" stat "${id[1]}"   # in the list, then with --no-names
expect 0 "^\\{\"id\":\"${id[65537]}\",\"size\":65537,\"refs\":1,\"inline\":false\\}\$" '^$' \
	-- --store "$st" stat --json "${id[65537]}"
expect 0 "^${id[65537]}  $files/f65537\$" '^$' -- --store "$st" put "$files/f65537"
expect 0 'refs: 2' '^$' -- --store "$st" stat "${id[65537]}"
expect 0 "^${id[65537]}: 1 reference left\$" '^$' -- --store "$st" rm "${id[65537]}"
expect 0 "^\\{\"id\":\"${id[65537]}\",\"refs_left\":0,\"removed\":true\\}\$" '^$' \
	-- --store "$st" rm --json "${id[65537]}"
loosefile=$st/objects/${id[65537]:0:2}/${id[65537]}
check "the last rm leaves the bytes for gc" test -f "$loosefile"
expect 1 '^$' '^$' -- --store "$st" exists "${id[65537]}"
# gc: the default grace period (1h) keeps it; a dry run lists it
expect 0 '^gc: removed 0 objects, 0 bytes, in [0-9.]+ s \(1 unreferenced, 1 within the grace period of 1h\)$' '^$' -- --store "$st" gc
expect 0 "^${id[65537]}  65537
gc: would remove 1 object, 65537 bytes" '^$' -- --store "$st" gc --dry-run --grace 0
check "a dry run removes nothing" test -f "$loosefile"
expect 0 '^\{"dry_run":false,"objects":1,"bytes":65537,"candidates":1,"young":0,"revived":0,"seconds":[0-9.]+\}$' '^$' \
	-- --store "$st" gc --grace 0 --json
check "gc frees the loose file" test ! -e "$loosefile"
expect 0 '^gc: removed 0 objects' '^$' -- --store "$st" gc --grace 0s
expect 2 '^$' "invalid --grace '5y'" -- --store "$st" gc --grace 5y
expect 2 '^$' "invalid --grace 'soon'" -- --store "$st" gc --grace soon
expect 2 '^$' "unexpected argument" -- --store "$st" gc now
expect 1 '^$' 'not stored' -- --store "$st" rm "${id[65537]}"
expect 1 '^$' 'not stored' -- --store "$st" stat "${id[65537]}"
expect 1 '^$' 'not stored' -- --store "$st" get "${id[65537]}"
# a put of removed bytes before gc revives them as a new object
expect 0 "^${id[1048577]}: removed\$" '^$' -- --store "$st" rm "${id[1048577]}"
expect 1 '^$' '^$' -- --store "$st" exists "${id[1048577]}"
expect 0 "^\\{\"id\":\"${id[1048577]}\",\"name\":\"$files/f1048577\",\"size\":1048577,\"duplicate\":false\\}\$" '^$' \
	-- --store "$st" put --json "$files/f1048577"
expect 0 'refs: 1' '^$' -- --store "$st" stat "${id[1048577]}"
expect 0 '^gc: removed 0 objects' '^$' -- --store "$st" gc --grace 0
"$b3cas" --store "$st" get "${id[1048577]}" >"$work/out" 2>/dev/null
check "a revived object reads back after gc" cmp -s "$files/f1048577" "$work/out"

# rm with one id absent still does the others (f0 was put twice)
expect 1 "^${id[0]}: 1 reference left\$" 'not stored' -- --store "$st" rm "${id[65537]}" "${id[0]}"
expect 0 '^$' '^$' -- --store "$st" exists "${id[0]}"

# ---- ls ----
left=(0 1 1000 65535 65536 1048577)
want=$(for n in "${left[@]}"; do echo "${id[$n]}"; done | sort)
expect 0 '' '^$' -- --store "$st" ls
check "ls lists exactly the stored ids, in order" test "$out" = "$want"
expect 0 '' '^$' -- --store "$st" ls --long
check "ls --long gives size, refs, storage" grep -Eq "^${id[1048577]} +1048577 +1 +loose\$" <<<"$out"
expect 0 '' '^$' -- --store "$st" ls --json
check "ls --json has one object per id" test "$(grep -Ec "^\\{\"id\":\"$hex64\",\"size\":[0-9]+,\"refs\":[0-9]+,\"inline\":(true|false)\\}\$" <<<"$out")" = "${#left[@]}"

# ---- stats: exact figures, and Prometheus text that promtool accepts ----
# left: f0 x1, f1 x2, f1000 x2, f65535 x2, f65536 x1, f1048577 x1
logical=$((0 + 1 * 2 + 1000 * 2 + 65535 * 2 + 65536 + 1048577))
physical=$((0 + 1 + 1000 + 65535 + 65536 + 1048577))
expect 0 "^\\{\"objects\":6,\"inline_objects\":5,\"references\":9,\"logical_bytes\":$logical,\"physical_bytes\":$physical,\"dedup_ratio\":[0-9.]+,\"gc_candidates\":0,\"gc_candidate_bytes\":0,\"chunked_objects\":0,\"chunked_bytes\":0,\"chunks\":0,\"chunk_refs\":0,\"chunk_ref_bytes\":0,\"chunk_bytes\":0,\"chunk_dedup_ratio\":1\\.000000,\"stored_bytes\":$physical,\"compressed_objects\":0,\"compression_ratio\":1\\.000000,\"manifest_bytes\":0,\"disk_bytes\":[0-9]+,\"cache\":\\{\"l1\":\\{\"capacity\":[0-9]+,.*\"l2\":\\{.*\"corrupt\":0\\}\\}\\}\$" '^$' \
	-- --store "$st" stats --json
# read-only, stats writes nothing: what it counts is what du counts
check "stats' disk_bytes is du -sB1's" test "$(jq .disk_bytes <<<"$out")" = "$(du -sB1 "$st" | cut -f1)"
expect 0 "objects: +6 \\(5 inline, 1 loose\\)" '^$' -- --store "$st" stats
expect 0 '' '^$' -- --store "$st" stats --prometheus
check "promtool accepts stats --prometheus" promtool check metrics <<<"$out"
check "the Prometheus text has the physical bytes" grep -qx "b3cas_physical_bytes $physical" <<<"$out"
check "the Prometheus text has the L1 capacity" grep -qx 'b3cas_cache_capacity_bytes{level="l1"} [0-9]*' <<<"$out"
expect 2 '^$' 'cannot be used together' -- --store "$st" stats --json --prometheus

# ---- which store: --store, then B3CAS_STORE, then the XDG default ----
B3CAS_STORE=$st expect 0 "${id[1]}" '^$' -- ls
B3CAS_STORE=$work/nowhere expect 0 "${id[1]}" '^$' -- --store "$st" ls
B3CAS_STORE=$work/nowhere expect 3 '^$' "no b3cas store at $work/nowhere \\(B3CAS_STORE\\)|$work/nowhere.*B3CAS_STORE" -- ls
env -u B3CAS_STORE XDG_DATA_HOME="$work/xdg" "$b3cas" init >/dev/null 2>&1
check "the default store is \$XDG_DATA_HOME/b3cas" test -f "$work/xdg/b3cas/b3cas.conf"
env -u B3CAS_STORE -u XDG_DATA_HOME HOME="$work/home" "$b3cas" init >/dev/null 2>&1
check "without XDG_DATA_HOME it is ~/.local/share/b3cas" test -f "$work/home/.local/share/b3cas/b3cas.conf"

# ---- SHA-256 comparison mode: ids are sha256sum's ----
for n in 0 1000 1048577; do
	want=$(sha256sum "$files/f$n" | cut -c1-64)
	expect 0 "^$want  $files/f$n\$" '^$' -- --store "$work/sha" put "$files/f$n"
	"$b3cas" --store "$work/sha" get "$want" >"$work/out" 2>/dev/null
	check "sha256 store: get f$n" cmp -s "$files/f$n" "$work/out"
done
check "sha256 recorded in b3cas.conf" grep -q '^hash = sha256$' "$work/sha/b3cas.conf"

# ---- loose objects kept in another folder (init --objects-dir) ----
expect 0 '"objects_dir":".*/tier"' '^$' -- --store "$work/split" init --objects-dir "$work/tier" --inline-threshold 100 --json
check "the tier's folder is recorded in b3cas.conf" grep -q "^objects = .*/tier\$" "$work/split/b3cas.conf"
expect 0 "^${id[1000]}  $files/f1000\$" '^$' -- --store "$work/split" put "$files/f1000"
check "the loose object is in the tier" test -f "$work/tier/${id[1000]:0:2}/${id[1000]}"
check "and not in the store folder" test ! -e "$work/split/objects/${id[1000]:0:2}/${id[1000]}"
"$b3cas" --store "$work/split" get "${id[1000]}" >"$work/out" 2>/dev/null
check "a get reads it from the tier" cmp -s "$files/f1000" "$work/out"
expect 2 '^$' 'objects-dir' -- --store "$work/bad" init --objects-dir ''

# ---- fsck: a sound store, damage found without change, repair from a mirror ----
expect 0 '0 problems' '^$' -- --store "$work/split" fsck
expect 0 '' '^$' -- --store "$work/mirror" init
expect 0 '' '^$' -- --store "$work/mirror" put "$files/f1000"
obj="$work/tier/${id[1000]:0:2}/${id[1000]}"
chmod 644 "$obj"
printf 'XXXXXXXX' | dd of="$obj" bs=1 seek=7 conv=notrunc 2>/dev/null
echo junk >"$work/tier/00/junk"
expect 1 "^corrupt +${id[1000]}" '^$' -- --store "$work/split" fsck
check "fsck without --repair changes nothing" test -f "$work/tier/00/junk"
expect 1 '"problem":"stray"' '^$' -- --store "$work/split" fsck --json
expect 0 'healed from the mirror' '^$' -- --store "$work/split" fsck --repair --mirror "$work/mirror"
check "the stray went to quarantine" test ! -e "$work/tier/00/junk"
expect 0 '"problems":0' '^$' -- --store "$work/split" fsck --json
"$b3cas" --store "$work/split" get "${id[1000]}" >"$work/out" 2>/dev/null
check "the healed object reads back" cmp -s "$files/f1000" "$work/out"
expect 2 '^$' 'unknown option' -- --store "$work/split" fsck --bogus
expect 0 '0 problems' '^$' -- --store "$work/split" fsck --threads 2
expect 2 '^$' 'invalid --threads' -- --store "$work/split" fsck --threads 257
# A bad L2 copy (made by hand: the CLI itself does not use L2): reported
# without --repair and left, deleted with it.
l2copy="$work/split/cache/l2/${id[1000]:0:2}/${id[1000]}"
mkdir -p "$(dirname "$l2copy")" && echo bad >"$l2copy"
expect 1 "^cache-copy +${id[1000]} .*\($work/split/cache/l2/" '^$' -- --store "$work/split" fsck
expect 1 '"cache_files":1,"cache_copies":1' '^$' -- --store "$work/split" fsck --json
check "fsck without --repair leaves a bad L2 copy" test -f "$l2copy"
expect 0 'deleted from the L2 cache' '^$' -- --store "$work/split" fsck --repair --threads 1
check "fsck --repair deletes a bad L2 copy" test ! -e "$l2copy"
expect 0 '0 problems' '^$' -- --store "$work/split" fsck
expect 0 '^backup: 1 objects, 1 copied' '^$' -- --store "$work/split" backup "$work/bk"
expect 0 '"copied":0' '^$' -- --store "$work/split" backup --json "$work/bk"
"$b3cas" --store "$work/bk" get "${id[1000]}" >"$work/out" 2>/dev/null
check "the backup holds the object" cmp -s "$files/f1000" "$work/out"
check "backups are logged" test "$(wc -l <"$work/split/integrity/backup/log")" = 2
expect 2 '^$' 'exactly one destination' -- --store "$work/split" backup
expect 0 'pass complete' '^$' -- --store "$work/split" scrub --rate 100
expect 0 '"completed":true' '^$' -- --store "$work/split" scrub --json --max-objects 5
expect 2 '^$' 'invalid --rate' -- --store "$work/split" scrub --rate 0

# ---- restore: missing and damaged objects back from a backup ----
expect 0 '^restore: 1 objects, 0 restored, 0 healed \(0 bytes copied\), 0 names set, 0 could not be restored' '^$' \
	-- --store "$work/split" restore "$work/bk"
chmod 644 "$obj"
truncate -s 3 "$obj"
expect 0 '^restore: 1 objects, 0 restored, 1 healed \(1000 bytes copied\), 0 names set, 0 could not be restored' '^$' \
	-- --store "$work/split" restore "$work/bk"
"$b3cas" --store "$work/split" get "${id[1000]}" >"$work/out" 2>/dev/null
check "restore heals a truncated object" cmp -s "$files/f1000" "$work/out"
check "restores are logged as such" grep -q ' restore src=.*healed=1 ' "$work/split/integrity/backup/log"
expect 0 '' '^$' -- --store "$work/again" init
expect 0 '^\{"src":".*/bk","objects":1,"restored":1,"healed":0,"names":0,"bytes":1000,"failed":0,"seconds":[0-9.]+\}$' '^$' \
	-- --store "$work/again" restore --json "$work/bk"
# an object damaged here that the backup lacks: named, exit 1
expect 0 '' '^$' -- --store "$work/split" put "$files/f65536"
rm -f "$work/tier/${id[65536]:0:2}/${id[65536]}"
expect 1 '1 could not be restored' "${id[65536]}.*its file is missing.*has no copy" \
	-- --store "$work/split" restore "$work/bk"
expect 1 "^\\{\"id\":\"${id[65536]}\",\"error\":\".*has no copy of it\"\\}" '^$' \
	-- --store "$work/split" restore --json "$work/bk"
expect 2 '^$' 'exactly one backup folder' -- --store "$work/split" restore
expect 2 '^$' 'exactly one backup folder' -- --store "$work/split" restore "$work/bk" "$work/bk"
expect 2 '^$' 'unknown option' -- --store "$work/split" restore --bogus "$work/bk"
expect 3 '' 'cannot open the backup' -- --store "$work/split" restore "$work/nowhere"

# ---- recover: a lost or damaged index ----
rec=$work/rec
expect 0 '' '^$' -- --store "$rec" init --inline-threshold 1000
expect 0 '' '^$' -- --store "$rec" put "$files/f0" "$files/f1" "$files/f1000" "$files/f65536" "$files/f1048577"
expect 0 '' '^$' -- --store "$rec" put "$files/f1000"
expect 0 '' '^$' -- --store "$rec" backup "$work/recbk"
expect 0 'nothing to rebuild' '^$' -- --store "$rec" recover
check "recover leaves a healthy store alone" test ! -e "$rec/integrity/recover"
rm -rf "$rec/index"
expect 3 '^$' 'has no index' -- --store "$rec" ls
expect 1 'a new index was built.*2 indexed again.*LOST: objects kept inside the index' '^$' \
	-- --store "$rec" recover
expect 0 '' '^$' -- --store "$rec" ls
check "recover without a backup brings back the loose objects" test "$(sort <<<"$out")" = "$(printf '%s\n' "${id[65536]}" "${id[1048577]}" | sort)"
rm -rf "$rec/index"
expect 0 '^\{"store":".*","action":"rebuilt",.*"reindexed":2,.*"restored":3,.*"lost":0,' '^$' \
	-- --store "$rec" recover --from "$work/recbk" --json
for n in 0 1 1000 65536 1048577; do
	"$b3cas" --store "$rec" get "${id[$n]}" >"$work/out" 2>/dev/null
	check "recover --from brings back f$n" cmp -s "$files/f$n" "$work/out"
done
# the backup carried the count (f1000 was put twice)
expect 0 'refs: 2' '^$' -- --store "$rec" stat "${id[1000]}"
expect 0 '' '^$' -- --store "$rec" put "$files/f1000"
head -c 100 /dev/urandom >"$(ls "$rec"/index/MANIFEST-*)"
expect 3 '^$' 'Corruption' -- --store "$rec" ls
expect 0 "RocksDB could not open the index.*kept in $rec/integrity/recover/index\\.[0-9]+.*RocksDB's repair made the index open again" '^$' \
	-- --store "$rec" recover
expect 0 'refs: 3' '^$' -- --store "$rec" stat "${id[1000]}"
expect 0 '0 problems' '^$' -- --store "$rec" fsck
expect 2 '^$' 'unexpected argument' -- --store "$rec" recover now
expect 2 '^$' 'needs a value' -- --store "$rec" recover --from
expect 2 '^$' 'unknown option' -- --store "$rec" recover --bogus
expect 3 '^$' 'no b3cas store' -- --store "$work/nowhere" recover
rm -rf "$rec/index"
expect 3 '^$' 'cannot open the backup' -- --store "$rec" recover --from "$work/nowhere"
check "a recovery that cannot start changes nothing" test ! -e "$rec/index"

# ---- many objects in one put; every one reads back ----
mkdir "$files/many"
for i in $(seq 1 300); do
	head -c $((RANDOM * 3 % 100000)) /dev/urandom >"$files/many/$i"
done
expect 0 '' '^$' -- --store "$st" put "$files"/many/*
# each read back with a get of its own (every Nth: B3CAS_CLI_GET_EVERY,
# 10 under the sanitizers, where a process costs 0.3 s; the release
# build reads all 300)
bad=0 every=${B3CAS_CLI_GET_EVERY:-1} n=0 got=0
while read -r h name; do
	((n++ % every == 0)) || continue
	got=$((got + 1))
	"$b3cas" --store "$st" get "$h" | cmp -s - "$name" || bad=$((bad + 1))
done < <(b3sum "$files"/many/*)
check "300 puts in one run: $got read back ($bad bad)" \
	test "$bad" = 0 -a "$got" -ge $((300 / every))
# on several threads the lines keep the order of the arguments, exactly
# as b3sum prints them; one failure keeps its place among --json lines
want=$(b3sum "$files"/many/*)
for t in 1 3 8; do
	expect 0 '' '^$' -- --store "$st" put --threads "$t" "$files"/many/*
	check "put --threads $t prints b3sum's lines in argument order" \
		test "$out" = "$want"
done
expect 2 '' 'it is a folder' -- --store "$st" put --json --threads 4 \
	"$files"/many/1 "$files"/many/2 "$files/many" "$files"/many/3 "$files"/many/4
names=$(printf '%s\n' "$out" | sed 's/.*"name":"\([^"]*\)".*/\1/' | tr '\n' ' ')
check "put --json --threads 4: lines in argument order, the folder's a failure" \
	test "$names" = "$files/many/1 $files/many/2 $files/many $files/many/3 $files/many/4 "
check "put --json: the folder's line names the error" \
	grep -q "\"name\":\"$files/many\",\"error\":\"EINVAL\"" <<<"$out"
expect 2 '^$' 'threads' -- --store "$st" put --threads 999 "$files"/many/1

# --files0-from: the same files named in a NUL-separated list (from a file
# or standard input) give the same lines, in the list's order; a name
# with a space or a newline is one name; a list without a final NUL ends
# with its last name; bad lists are usage errors that store nothing
printf '%s\0' "$files"/many/* >"$work/list0"
for t in 1 3; do
	expect 0 '' '^$' -- --store "$st" put --threads "$t" --files0-from "$work/list0"
	check "put --files0-from (--threads $t) prints b3sum's lines in list order" \
		test "$out" = "$want"
done
out=$(find "$files/many" -name '1*' -print0 | "$b3cas" --store "$st" put --files0-from -) || true
check "put --files0-from - reads the names from standard input" \
	test "$out" = "$(find "$files/many" -name '1*' -print0 | xargs -0 b3sum)"
printf 'odd name\n' >"$files/odd name
x"
printf '%s\0%s' "$files/odd name
x" "$files/many/7" >"$work/list1"
expect 0 '' '^$' -- --store "$st" put --json --files0-from "$work/list1"
check "put --files0-from: a name with a newline is one file, the last needs no NUL" \
	test "$(grep -c '"size"' <<<"$out")" = 2
printf '%s\0\0%s\0' "$files/many/7" "$files/many/8" >"$work/list2"
expect 2 '^$' 'name 2 is an empty file name' -- --store "$st" put --files0-from "$work/list2"
expect 2 '^$' "standard input holds the names" -- --store "$st" put --files0-from - < <(printf -- '-\0')
expect 2 '^$' 'cannot open --files0-from' -- --store "$st" put --files0-from "$work/nolist"
expect 2 '^$' 'cannot go together' -- --store "$st" put --files0-from "$work/list0" "$files/many/1"
expect 0 '^$' '^$' -- --store "$st" put --files0-from /dev/null

# ---- a chunking, compressing store (format 2) ----
cs=$work/chunked
expect 2 '^$' 'power of two' -- --store "$work/bad" init --chunk-avg 3000
expect 2 '^$' 'power of two' -- --store "$work/bad" init --chunk-avg 128
expect 2 '^$' 'blake3' -- --store "$work/bad" init --hash sha256 --chunking
expect 2 '^$' 'compress-level' -- --store "$work/bad" init --compress-level 20
check "a refused chunking init creates nothing" test ! -e "$work/bad"
expect 0 '"format_version":2,"chunk_avg":2048,"compression_level":3,"packed":true,"pack_level":3' '^$' \
	-- --store "$cs" init --chunk-avg 2048 --compress --json
check "b3cas.conf records the chunking" grep -q '^chunking = fastcdc-2020$' "$cs/b3cas.conf"
check "b3cas.conf records the compression" grep -q '^compression_level = 3$' "$cs/b3cas.conf"
check "b3cas.conf records the packing" grep -q '^compression = zstd-packed$' "$cs/b3cas.conf"
check "the same level: no pack_level line" \
	bash -c "! grep -q pack_level '$cs/b3cas.conf'"
# levels: --compress-level alone sets both, --pack-level the blocks'
expect 0 'zstd level 5, packed in 64 KiB blocks \(delta chunks level 5\)' '^$' \
	-- --store "$work/packed5" init --compress-level 5
check "--compress-level alone: no pack_level line" \
	bash -c "! grep -q pack_level '$work/packed5/b3cas.conf'"
expect 0 '"compression_level":7,"packed":true,"pack_level":2' '^$' \
	-- --store "$work/packed72" init --compress-level 7 --pack-level 2 --json
check "b3cas.conf records --pack-level" grep -q '^pack_level = 2$' "$work/packed72/b3cas.conf"
expect 1 '"pack_level":2' 'already a b3cas store' -- --store "$work/packed72" init --json
expect 2 '^$' 'pack-level.*no-pack' -- --store "$work/bad" init --pack-level 3 --no-pack
expect 2 '^$' 'pack-level' -- --store "$work/bad" init --pack-level 20
sed -i 's/^pack_level = 2$/pack_level = 0/' "$work/packed72/b3cas.conf"
expect 3 '^$' 'bad pack level' -- --store "$work/packed72" stats
# a frame per object, as stores of earlier versions
expect 0 'Compression: zstd level 3, a frame per object' '^$' \
	-- --store "$work/frames" init --chunking --no-pack
check "--no-pack: b3cas.conf says zstd" grep -q '^compression = zstd$' "$work/frames/b3cas.conf"
expect 0 'zstd level 9, packed in 64 KiB blocks' '^$' \
	-- --store "$work/packed9" init --compress-level 9
# a large text-like file, a copy with a line changed in the middle, and
# the files of every size class: ids are b3sum's, bytes come back
seq 1 400000 >"$files/big.txt"
sed '200000s/.*/changed/' "$files/big.txt" >"$files/big2.txt"
expect 0 '' '^$' -- --store "$cs" put "$files/big.txt" "$files/big2.txt" "$files"/f*
got=$(printf '%s\n' "$out" | sort -k2)
want=$(cd "$files" && b3sum big.txt big2.txt f* | sed "s|  |  $files/|" | sort -k2)
check "chunking store: put prints b3sum's lines" test "$got" = "$want"
bad=0
while read -r h name; do
	"$b3cas" --store "$cs" get "$h" | cmp -s - "$name" || bad=$((bad + 1))
	"$b3cas" --store "$cs" get "$h" <&- | cmp -s - "$name" || bad=$((bad + 1))
done < <(b3sum "$files/big.txt" "$files/big2.txt" "$files"/f*)
check "chunking store: every object reads back ($bad bad)" test "$bad" = 0
# the two texts share all but a few chunks, and compress: far less on
# disk than the 5.4 MB they hold
idx=$(du -sb "$cs/index" | cut -f1)
check "chunking store: index $idx bytes for 5.4 MB of near-copies" test "$idx" -lt 2500000
expect 0 '' '^$' -- --store "$cs" fsck
# stats of a chunking store: everything put once, so logical bytes are
# the files' sizes; files over chunk_max (8192) are chunked; the
# near-copies share chunks; the texts compress
sizes=$(stat -c %s "$files/big.txt" "$files/big2.txt" "$files"/f*)
put_bytes=$(awk '{ t += $1 } END { print t }' <<<"$sizes")
big_bytes=$(awk '$1 > 8192 { t += $1 } END { print t }' <<<"$sizes")
big_count=$(awk '$1 > 8192 { n++ } END { print n }' <<<"$sizes")
expect 0 '' '^$' -- --store "$cs" stats --json
check "chunking store: stats --json has the chunk figures" jq -e \
	--argjson put "$put_bytes" --argjson big "$big_bytes" --argjson n "$big_count" '
	.logical_bytes == $put and .chunked_objects == $n and
	.chunked_bytes == $big and .chunk_ref_bytes == $big and
	.chunk_refs > .chunks and .chunk_bytes < .chunk_ref_bytes and
	.chunk_dedup_ratio > 1.4 and .chunk_bytes <= .physical_bytes and
	.compressed_objects > 0 and .stored_bytes < .physical_bytes and
	.compression_ratio > 1.5 and .manifest_bytes > 33 * .chunks and
	.manifest_bytes < 34 * .chunk_refs and
	.objects == .inline_objects and .references == .objects - .chunks
	' <<<"$out" >/dev/null
check "chunking store: stats' disk_bytes is du -sB1's" test "$(jq .disk_bytes <<<"$out")" = "$(du -sB1 "$cs" | cut -f1)"
expect 0 'chunk dedup ratio: +[0-9.]+' '^$' -- --store "$cs" stats
expect 0 '' '^$' -- --store "$cs" stats --prometheus
check "chunking store: promtool accepts stats --prometheus" promtool check metrics <<<"$out"
for m in chunked_objects chunked_bytes chunks chunk_references chunk_reference_bytes \
	chunk_bytes chunk_dedup_ratio stored_bytes compressed_objects compression_ratio \
	manifest_bytes disk_bytes; do
	check "the Prometheus text has b3cas_$m" grep -Eq "^# TYPE b3cas_$m gauge\$" <<<"$out"
done
check "the Prometheus text has the chunked objects" grep -qx "b3cas_chunked_objects $big_count" <<<"$out"
h=$(b3sum --no-names "$files/big.txt")
expect 0 '' '' -- --store "$cs" rm "$h"
expect 0 '' '' -- --store "$cs" gc --grace 0
"$b3cas" --store "$cs" get "$(b3sum --no-names "$files/big2.txt")" | cmp -s - "$files/big2.txt"
check "chunking store: the near-copy reads back after the other's GC" test $? = 0
expect 0 '' '^$' -- --store "$cs" fsck

# gc --compact: the index gives back a removed object's packed chunks
expect 0 '' '^$' -- --store "$work/cpk" init --chunking --compress
head -c $((24 << 20)) /dev/urandom >"$files/rand24"
expect 0 '' '^$' -- --store "$work/cpk" put "$files/rand24"
expect 0 '' '' -- --store "$work/cpk" rm "$(b3sum --no-names "$files/rand24")"
expect 0 '^gc: removed ' '^$' -- --store "$work/cpk" gc --grace 0
before=$(du -sb "$work/cpk/index" | cut -f1)
expect 0 '^gc: removed 0 objects' '^gc: index compacted in ' \
	-- --store "$work/cpk" gc --grace 0 --compact
after=$(du -sb "$work/cpk/index" | cut -f1)
check "gc --compact: the index shrinks by the removed 24 MiB ($before -> $after)" \
	test $((before - after)) -gt $((20 << 20))
expect 0 '0 problems' '' -- --store "$work/cpk" fsck
rm -f "$files/rand24"

# put --base: a third version with lines changed, put against the second
# as its base in a store of its own and without in another: same id,
# same bytes, fewer bytes stored; a base not stored or malformed: exit 2
sed '100000s/.*/again/; 300000s/.*/and again/' "$files/big2.txt" >"$files/big3.txt"
for d in dbase dnone; do
	expect 0 '' '^$' -- --store "$work/$d" init --chunk-avg 2048 --compress
	expect 0 '' '^$' -- --store "$work/$d" put "$files/big2.txt"
done
b2=$(b3sum --no-names "$files/big2.txt")
expect 0 "^$(b3sum --no-names "$files/big3.txt")  " '^$' \
	-- --store "$work/dbase" put --base "$b2" "$files/big3.txt"
expect 0 '' '^$' -- --store "$work/dnone" put "$files/big3.txt"
"$b3cas" --store "$work/dbase" get "$(b3sum --no-names "$files/big3.txt")" | cmp -s - "$files/big3.txt"
check "put --base: the new version reads back" test $? = 0
stored() { "$b3cas" --store "$1" stats --json | sed 's/.*"stored_bytes":\([0-9]*\).*/\1/'; }
sb=$(stored "$work/dbase") sn=$(stored "$work/dnone")
check "put --base stores less ($sb against $sn bytes)" test "$sb" -lt "$sn"
expect 2 '^$' 'is not stored' -- --store "$work/dbase" put --base "$(printf '%064d' 0)" "$files/big3.txt"
expect 2 '^$' 'invalid id' -- --store "$work/dbase" put --base zz "$files/big3.txt"
expect 0 '' '^$' -- --store "$work/dbase" fsck

cli_summary
