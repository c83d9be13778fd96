#!/bin/bash
# Alternate builds of the extension on running bench servers, in random
# order, N rounds, each a cpu_split.sh run of T seconds.  Each spec is
#   label:path/to/privacy_guard.so:SERVER_DIR:PORT:pgbench-file-stem
# (a build whose schema differs needs its own server: the writer of one
# build on the other's trail falls back to inserting by statement).  Swaps
# the installed privacy_guard.so and restarts that server before each run.
#   N=4 T=10 bash bench/search/alternate.sh \
#     "before:/tmp/old.so:/tmp/privacy_guard-server.A:54378:blind_index" \
#     "after:/tmp/new.so:/tmp/privacy_guard-server.B:54377:blind_index" \
#     "plain:/tmp/new.so:/tmp/privacy_guard-server.B:54377:plain"
set -eu
here=$(cd "$(dirname "$0")" && pwd)
lib=$(pg_config --pkglibdir)
bin=$(pg_config --bindir)
for r in $(seq "${N:-3}"); do
	for spec in $(printf '%s\n' "$@" | shuf); do
		IFS=: read -r label so sd port stem <<<"$spec"
		cp "$so" "$lib/.privacy_guard.so.new" && mv "$lib/.privacy_guard.so.new" "$lib/privacy_guard.so"
		(cd "$sd" && runuser -u "${PGUSER_OS:-pguard}" -- "$bin/pg_ctl" -D data -l server.log -w restart >/dev/null)
		sleep 1
		echo "$label $(SERVER_DIR=$sd PORT=$port F=$stem T=${T:-10} bash "$here/cpu_split.sh")"
	done
done
