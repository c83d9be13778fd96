#!/usr/bin/env bash
# The privacy_guard demo: the shop of POLICY.md on a throwaway local server.
# Installs what it needs, starts a private PostgreSQL as an unprivileged
# user, loads examples/shop_policy.json, tells the story in
# examples/demo.sql, stops the server, exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/common.sh
prepare

trap stop_server EXIT
start_server "${DEMO_PORT:-54329}"
echo "privacy_guard demo: a throwaway server in $SERVER_DIR"
server_psql -v ON_ERROR_STOP=1 -v policy="$(cat examples/shop_policy.json)" -f - <examples/demo.sql 2>&1 |
	sed 's/^psql:<stdin>:[0-9]*: //'
echo
echo "demo finished; the server is stopped and its directory removed."
