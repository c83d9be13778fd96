#!/usr/bin/env bash
# The fault-finding suite that runs outside pg_regress and TAP:
#  - libFuzzer harnesses (clang) for the envelope and keyring parsers, each
#    run for FUZZ_SECONDS (default 20) from the seed corpus in test/fuzz/corpus;
#  - sqlsmith against a throwaway server holding a shop with protected
#    columns, SMITH_QUERIES random queries (default 4000) as a superuser and
#    as an application role: no backend may crash.
# Prints TAP-style "ok N - ..." / "not ok N - ..." lines.  Run longer with
#   FUZZ_SECONDS=3600 SMITH_QUERIES=200000 bash scripts/fuzz.sh
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

FUZZ_SECONDS=${FUZZ_SECONDS:-20}
SMITH_QUERIES=${SMITH_QUERIES:-4000}
n=0
failed=0
report() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}

build=$(mktemp -d /tmp/privacy_guard-fuzz.XXXXXX)
chmod 755 "$build"
inc=$(pg_config --includedir-server)
libs="$(pg_config --pkglibdir)/libpgcommon.a $(pg_config --pkglibdir)/libpgport.a -lcrypto -lsodium"
for h in envelope keyring; do
	if ! clang -g -O1 -Wno-ignored-attributes -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -I"$inc" -Isrc "test/fuzz/fuzz_$h.c" test/fuzz/stubs.c \
		-o "$build/fuzz_$h" $libs >"$build/build_$h.log" 2>&1; then
		sed 's/^/# /' "$build/build_$h.log" | tail -20
		report 1 "fuzz_$h builds"
		continue
	fi
	mkdir -p "$build/corpus_$h"
	cp test/fuzz/corpus/$h/* "$build/corpus_$h/"
	(cd "$build" && "./fuzz_$h" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=1024 \
		-artifact_prefix="$build/crash_$h-" "corpus_$h" >"$build/run_$h.log" 2>&1)
	rc=$?
	runs=$(grep -o 'Done [0-9]* runs' "$build/run_$h.log" | grep -o '[0-9]*')
	[ $rc -ne 0 ] && tail -30 "$build/run_$h.log" | sed 's/^/# /'
	report $rc "fuzz_$h: ${runs:-0} inputs in ${FUZZ_SECONDS}s without a failed check or a sanitizer report"
done

# sqlsmith: a shop, then random queries as a superuser and as the application
start_server 5471 "log_min_messages = warning" "max_connections = 20"
smith_sql="
CREATE EXTENSION privacy_guard;
SELECT privacy_guard.define_category('contact', 'personal', 'email');
SELECT privacy_guard.define_category('address', 'personal', 'address');
SELECT privacy_guard.define_purpose('support');
SELECT privacy_guard.define_purpose('newsletter', requires_consent => true);
SELECT privacy_guard.allow('support', 'contact');
SELECT privacy_guard.allow('support', 'address', 'masked');
SELECT privacy_guard.allow('newsletter', 'contact');
CREATE ROLE shop_app LOGIN;
SELECT privacy_guard.grant_purpose('shop_app', 'support');
CREATE TABLE customers (id int PRIMARY KEY, name text, email text, born date, spent numeric);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers, address text, total numeric);
INSERT INTO customers SELECT g, 'name' || g, 'c' || g || '@example.com', date '1980-01-01' + g, g * 10
  FROM generate_series(1, 50) g;
INSERT INTO orders SELECT g, 1 + g % 50, g || ' Main Street', g FROM generate_series(1, 100) g;
SELECT privacy_guard.protect('customers', 'email', 'contact', 'id', searchable => true);
SELECT privacy_guard.protect('orders', 'address', 'address', 'customer_id');
SELECT privacy_guard.grant_consent('1', 'newsletter', 'ticked the box');
GRANT SELECT, INSERT, UPDATE ON customers, orders TO shop_app;
"
as_user psql -X -q -h "$SERVER_DIR" -p "$SERVER_PORT" -U postgres -d postgres -c "CREATE DATABASE shop" >/dev/null
as_user psql -X -q -h "$SERVER_DIR" -p "$SERVER_PORT" -U postgres -d shop -v ON_ERROR_STOP=1 \
	-c "$smith_sql" >"$build/smith_setup.log" 2>&1
report $? "sqlsmith's shop is set up"
for who in postgres shop_app; do
	as_user sqlsmith --target="host=$SERVER_DIR port=$SERVER_PORT dbname=shop user=$who" \
		--seed=20261130 --max-queries="$SMITH_QUERIES" --exclude-catalog >"$build/smith_$who.log" 2>&1
	crashes=$(grep -cE 'terminated by signal|PANIC' "$SERVER_DIR/server.log")
	as_user psql -X -q -h "$SERVER_DIR" -p "$SERVER_PORT" -U postgres -d shop -c 'SELECT 1' >/dev/null 2>&1
	alive=$?
	[ "$crashes" -ne 0 ] && grep -E -B2 -A5 'terminated by signal|PANIC' "$SERVER_DIR/server.log" | head -30 | sed 's/^/# /'
	report $((crashes + alive)) "sqlsmith as $who: $SMITH_QUERIES queries, no backend crashed"
done
stop_server
if [ "$failed" -eq 0 ]; then
	rm -rf "$build"
else
	echo "# fuzzers, their logs and any crash_* inputs kept in $build"
fi
echo "1..$n"
exit $((failed > 0))
