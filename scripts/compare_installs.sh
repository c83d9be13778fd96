#!/usr/bin/env bash
# Compare what two versions of privacy_guard install: CREATE EXTENSION of
# each in its own database of a throwaway server, then diff their catalog
# fingerprints (scripts/catalog_fingerprint.sql).  Usage:
#   bash scripts/compare_installs.sh [OLD_VERSION [NEW_VERSION]]   (0.1 and the default)
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:-0.1}
new=${2:-}
. scripts/common.sh
prepare
trap stop_server EXIT
start_server "${COMPARE_PORT:-54395}"
server_psql -c "CREATE DATABASE v_old" -c "CREATE DATABASE v_new" >/dev/null
as_user psql -X -q -h "$SERVER_DIR" -p "$SERVER_PORT" -U postgres -d v_old \
	-c "CREATE EXTENSION privacy_guard VERSION '$old'"
as_user psql -X -q -h "$SERVER_DIR" -p "$SERVER_PORT" -U postgres -d v_new \
	-c "CREATE EXTENSION privacy_guard ${new:+VERSION '$new'}"
for db in v_old v_new; do
	as_user psql -X -q -h "$SERVER_DIR" -p "$SERVER_PORT" -U postgres -d "$db" -f - \
		<scripts/catalog_fingerprint.sql >"$SERVER_DIR/$db.txt"
done
diff "$SERVER_DIR/v_old.txt" "$SERVER_DIR/v_new.txt" && echo "no difference"
