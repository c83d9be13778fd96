#!/bin/bash
# CPU a statement takes, split between the sessions' backends, the audit
# writer, pgbench and the rest of the machine, for 2 clients running
# bench/search/$F.pgb for $T seconds against a bench server (left running
# by scripts/bench.sh's start_server, or any server with bench/search.sql
# loaded and the .pgb files in its directory).
#   SERVER_DIR=/tmp/privacy_guard-server.X PORT=54377 F=blind_index T=20 bash bench/search/cpu_split.sh
set -eu
SD=${SERVER_DIR:?}; PORT=${PORT:-54377}; T=${T:-20}; F=${F:-blind_index}; USER_=${PGUSER_OS:-pguard}
cd /tmp
P="runuser -u $USER_ -- psql -X -At -h $SD -p $PORT -U postgres postgres"
cpu() { local s=0 v; for p in "$@"; do v=$(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0); s=$((s + v)); done; echo $s; }
sysall() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
runuser -u "$USER_" -- pgbench -n -M prepared -c 2 -j 2 -T $((T + 2)) -D rows=100000 -D purposed=0 -D n=0 \
	-f "$SD/$F.pgb" -h "$SD" -p "$PORT" -U postgres postgres >/dev/null 2>&1 &
sleep 1
b=$($P -c "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE application_name = 'pgbench'")
w=$($P -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'privacy_guard audit writer' AND datname = 'postgres'")
pb=$(pgrep -x pgbench)
t0=$(sysall); b0=$(cpu $b); w0=$(cpu $w); p0=$(cpu $pb)
n0=$($P -c "SELECT xact_commit FROM pg_stat_database WHERE datname = 'postgres'")
sleep "$T"
t1=$(sysall); b1=$(cpu $b); w1=$(cpu $w); p1=$(cpu $pb)
n1=$($P -c "SELECT xact_commit FROM pg_stat_database WHERE datname = 'postgres'")
wait
awk -v f="$F" -v n=$((n1 - n0)) -v t=$((t1 - t0)) -v b=$((b1 - b0)) -v w=$((w1 - w0)) -v p=$((p1 - p0)) -v s="$T" 'BEGIN {
	printf "%s: %.0f statements a second; CPU a statement: all %.2f us, backends %.2f, audit writer %.2f, pgbench %.2f, rest %.2f\n",
		f, n / s, t * 1e4 / n, b * 1e4 / n, w * 1e4 / n, p * 1e4 / n, (t - b - w - p) * 1e4 / n }'
