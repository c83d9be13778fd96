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

# Run one suite's command; count "... ok" / "... FAILED" (pg_regress) and
# "ok N" / "not ok N" (TAP).  A suite that ran nothing counts as a failure.
suite() {
	local name=$1
	shift
	echo "== $name"
	"$@" >"$log.$name" 2>&1
	local rc=$?
	local ok bad
	ok=$(grep -cE '^(test | +)?[[:alnum:]_]+ +\.\.\. ok|^ok [0-9]+' "$log.$name")
	# a TAP "not ok N ... # TODO" is a known gap, named in the output, not a failure
	bad=$(grep -E '\.\.\. FAILED|^not ok [0-9]+' "$log.$name" | grep -cv '# TODO')
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

suite regress as_user make -C "$work" -s installcheck ISOLATION= TAP_TESTS=
suite isolation as_user make -C "$work" -s installcheck REGRESS= TAP_TESTS=
suite tap as_user make -C "$work" -s installcheck REGRESS= ISOLATION= PROVE_FLAGS=-v
# libFuzzer harnesses and sqlsmith, bounded in time
suite fuzz bash scripts/fuzz.sh

if [ "$failed" -eq 0 ] && [ -z "${KEEP_TEST_DIR:-}" ]; then
	rm -rf "$work"
else
	echo "test files kept in $work"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
