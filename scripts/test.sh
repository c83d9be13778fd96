#!/usr/bin/env bash
# Build, install and run the whole test suite of privacy_guard on private
# temporary servers: pg_regress, pg_isolation_regress and TAP.  Works on a
# fresh Debian machine (installs what it needs) and as root (tests run as an
# unprivileged user).  The last line is "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }
. scripts/common.sh

ensure_user
if ! build_install; then
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
fi
work=$(user_copy test)
log=$work/test-output
passed=0
failed=0

# Run one suite; count "... ok" / "... FAILED" (pg_regress) and "ok N" /
# "not ok N" (TAP).  A suite that ran nothing counts as a failure.
suite() {
	local name=$1
	shift
	echo "== $name"
	as_user make -C "$work" -s "$@" >"$log.$name" 2>&1
	local rc=$?
	local ok bad
	ok=$(grep -cE '^(test | +)?[[:alnum:]_]+ +\.\.\. ok|^ok [0-9]+' "$log.$name")
	bad=$(grep -cE '\.\.\. FAILED|^not ok [0-9]+' "$log.$name")
	grep -E '\.\.\. (ok|FAILED)|^(not )?ok [0-9]+|^# |Failed test|Result:' "$log.$name" | sed 's/^/   /'
	if [ "$ok" -eq 0 ] && [ "$bad" -eq 0 ]; then
		echo "   $name ran no test:"
		tail -n 30 "$log.$name" | sed 's/^/   | /'
		bad=1
	elif [ $rc -ne 0 ] && [ "$bad" -eq 0 ]; then
		echo "   $name exited with status $rc:"
		tail -n 30 "$log.$name" | sed 's/^/   | /'
		bad=1
	fi
	for diffs in "$work"/output_regress/regression.diffs "$work"/regression.diffs; do
		[ -s "$diffs" ] && [ "$bad" -gt 0 ] && head -n 200 "$diffs" | sed 's/^/   | /'
	done
	passed=$((passed + ok))
	failed=$((failed + bad))
}

suite regress installcheck ISOLATION= TAP_TESTS=
suite isolation installcheck REGRESS= TAP_TESTS=
suite tap installcheck REGRESS= ISOLATION= PROVE_FLAGS=-v

# libFuzzer harnesses and sqlsmith (scripts/fuzz.sh), bounded in time
echo "== fuzz"
bash scripts/fuzz.sh >"$log.fuzz" 2>&1
ok=$(grep -cE '^ok [0-9]+' "$log.fuzz")
bad=$(grep -cE '^not ok [0-9]+' "$log.fuzz")
grep -E '^(not )?ok [0-9]+|^# ' "$log.fuzz" | sed 's/^/   /'
if [ "$ok" -eq 0 ] && [ "$bad" -eq 0 ]; then
	echo "   fuzz ran no test:"
	tail -n 30 "$log.fuzz" | sed 's/^/   | /'
	bad=1
fi
passed=$((passed + ok))
failed=$((failed + bad))

if [ "$failed" -eq 0 ] && [ -z "${KEEP_TEST_DIR:-}" ]; then
	rm -rf "$work"
else
	echo "test files kept in $work"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
