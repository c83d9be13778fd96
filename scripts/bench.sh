#!/usr/bin/env bash
# privacy_guard benchmark: reveal and write cost against plain PostgreSQL
# and pgcrypto, measured in the same run on a throwaway server; protect()
# on a large table.  Not part of CI.
#   BENCH_ROWS     customers (= data subjects) for reveal/write (100000)
#   PROTECT_ROWS   rows for the protect() run (1000000; 0 skips it)
#   ERASE_CUSTOMERS  customer counts for the erasure runs ("10000 1000000"; "" skips)
#   SCAN_ROWS      rows of the table scan() samples (2000000; 0 skips it)
#   SEARCH_SECONDS seconds of pgbench per search variant (24; 0 skips it)
#   SEARCH_ROUNDS  turns the search variants take, each SEARCH_SECONDS / SEARCH_ROUNDS seconds (8)
#   STREAM_REPS    statements per variant of the steady stream of reveals (12; 0 skips it)
#   STREAM_ROUNDS  turns the stream's variants take, a connection each (3)
#   STANDBY_SECONDS  seconds of pgbench per server for a one-row reveal on a primary and its hot standby (10; 0 skips it)
#   WRITE_SECONDS  seconds of pgbench per single-row INSERT variant; COPY runs 3 times each (10; 0 skips both)
#   MIX_SECONDS    seconds of the pgbench shop mix, 8 clients, on protected tables and on plain twins (30; 0 skips it)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${BENCH_ROWS:-100000}
protect_rows=${PROTECT_ROWS:-1000000}
erase_customers=${ERASE_CUSTOMERS-10000 1000000}
scan_rows=${SCAN_ROWS:-2000000}
search_seconds=${SEARCH_SECONDS:-24}
search_rounds=${SEARCH_ROUNDS:-8}
stream_reps=${STREAM_REPS:-12}
stream_rounds=${STREAM_ROUNDS:-3}
standby_seconds=${STANDBY_SECONDS:-10}
write_seconds=${WRITE_SECONDS:-10}
mix_seconds=${MIX_SECONDS:-30}

. scripts/common.sh
prepare

trap '[ -z "${SERVER_DIR:-}" ] || as_user pg_ctl -D "$SERVER_DIR/standby" -m immediate stop >/dev/null 2>&1 || true; stop_server' EXIT
# min_wal_size: a server writing an audit trail keeps its used WAL segments
# to recycle (docs/operations.md), rather than zero-filling new ones
start_server "${BENCH_PORT:-54330}" "shared_buffers = 1GB" "max_wal_size = 4GB" "min_wal_size = 2GB" "work_mem = 64MB" \
	"privacy_guard.collection_guard = off"   # the benchmark's plaintext tables are on purpose
echo "privacy_guard benchmark: $rows subjects, $(nproc) cores, $(openssl version)"

# Before a section that compares variants taking turns: what the sections
# before it left to do (autovacuum of the tables they wrote, the audit
# writer's backlog, dirty buffers) is done now, not in the middle of
# whichever variant runs when it starts.
settle() {
	server_psql -c "SELECT privacy_guard.audit_flush()" -c "VACUUM ANALYZE" -c CHECKPOINT >/dev/null
}
server_psql -v ON_ERROR_STOP=1 -v rows="$rows" -f - <bench/setup.sql
echo "== warming the server (every shared buffer touched once, WAL segments recycled: bench/warm.sql)"
server_psql -v ON_ERROR_STOP=1 -At -f - <bench/warm.sql >/dev/null
echo
echo "== reveal: one backend, key cache warm"
server_psql -v ON_ERROR_STOP=1 -f - <bench/reveal.sql
echo "== reveal: a new backend (keys loaded and unwrapped in bulk)"
server_psql -v ON_ERROR_STOP=1 -f - <bench/cold.sql
echo "== writes"
server_psql -v ON_ERROR_STOP=1 -f - <bench/write.sql
if [ "$write_seconds" -gt 0 ]; then
	echo "== writes as a client sends them: COPY of 100k new customers (best of 3), and single-row INSERTs by pgbench (-M prepared, ${write_seconds}s)"
	(cd "$SERVER_DIR" && server_psql -v ON_ERROR_STOP=1 -f - <"$OLDPWD/bench/writes.sql")
	cp bench/writes/*.pgb "$SERVER_DIR/"
	declare -A copy_ms ins_us
	for t in copy_plain floor copy_guarded; do
		best=
		for i in 1 2 3; do
			server_psql -c "TRUNCATE copy_plain, floor_keys, copy_guarded" >/dev/null
			t0=$(date +%s%N)
			if [ "$t" = floor ]; then
				(cd "$SERVER_DIR" && server_psql -c "\\copy copy_plain (id, email) FROM 'customers$i.csv' CSV" \
					-c "\\copy floor_keys (kind, name, master_version, wrapped, created_at) FROM 'floorkeys$i.csv' CSV" >/dev/null)
			else
				(cd "$SERVER_DIR" && server_psql -c "\\copy $t (id, email) FROM 'customers$i.csv' CSV" >/dev/null)
			fi
			ms=$(( ($(date +%s%N) - t0) / 1000000 ))
			[ -n "$best" ] && [ "$best" -le "$ms" ] || best=$ms
		done
		copy_ms[$t]=$best
	done
	awk -v p="${copy_ms[copy_plain]}" -v g="${copy_ms[copy_guarded]}" -v r="$rows" \
		'BEGIN { printf "COPY %d rows: plain %d ms, protected searchable %d ms: %.2f x plain COPY\n", r, p, g, g / p }'
	awk -v p="${copy_ms[copy_plain]}" -v f="${copy_ms[floor]}" \
		'BEGIN { printf "COPY floor (plain COPY, then COPY of a key row per new customer; no cryptography): %d ms: %.2f x plain COPY\n", f, f / p }'
	# each INSERT commits: with synchronous_commit on its fsync dominates;
	# off shows the CPU the write path adds
	for sync in on off; do
		for t in ins_plain ins_guarded; do
			ins_us[$t]=$(as_user env PGOPTIONS="-c synchronous_commit=$sync" pgbench -n -M prepared -c 1 -T "$write_seconds" \
				-f "$SERVER_DIR/$t.pgb" -h "$SERVER_DIR" -p "$SERVER_PORT" -U postgres postgres 2>&1 |
				awk '/^tps = / { printf "%.1f", 1e6 / $3 }')
		done
		awk -v p="${ins_us[ins_plain]}" -v g="${ins_us[ins_guarded]}" -v s="$sync" \
			'BEGIN { printf "single-row INSERT (synchronous_commit %s): plain %.1f us, protected searchable %.1f us: %.2f x plain INSERT\n", s, p, g, g / p }'
	done
fi
if [ "$mix_seconds" -gt 0 ]; then
	echo "== the shop mix: new customer and order, delivery read (a reveal), address update, search by e-mail; pgbench -c 8 -M prepared, ${mix_seconds}s on protected tables and on plain twins"
	server_psql -v ON_ERROR_STOP=1 -f - <bench/mix.sql
	cp bench/mix/*.pgb "$SERVER_DIR/"
	declare -A mix_tps
	# x: plain twins; f: the floor, plain twins plus what any design that
	# records reads must write (see bench/mix/*_f.pgb); p: protected
	for v in x f p; do
		out=$(as_user pgbench -n -M prepared -c 8 -j 2 -T "$mix_seconds" -D purposed=0 \
			-f "$SERVER_DIR/new_customer_$v.pgb@1" -f "$SERVER_DIR/delivery_$v.pgb@1" \
			-f "$SERVER_DIR/address_update_$v.pgb@1" -f "$SERVER_DIR/search_$v.pgb@1" \
			-h "$SERVER_DIR" -p "$SERVER_PORT" -U postgres postgres 2>&1) ||
			{ echo "pgbench failed:"; grep -E 'error|ERROR|abort' <<<"$out" | head -5; }
		mix_tps[$v]=$(awk '/^tps = / { printf "%.1f", $3 }' <<<"$out")
		failed=$(awk -F'[:(]' '/number of failed transactions/ { gsub(/ /, "", $2); print $2; exit }' <<<"$out")
		errors=$(grep -c 'ERROR' <<<"$out" || true)
		echo "$(case $v in p) echo protected ;; f) echo floor ;; *) echo plain ;; esac) tps ${mix_tps[$v]}, failed transactions ${failed:-0}, client errors $errors"
	done
	awk -v x="${mix_tps[x]}" -v p="${mix_tps[p]}" 'BEGIN { printf "shop mix: protected %.2f x the plain TPS\n", p / x }'
	awk -v x="${mix_tps[x]}" -v f="${mix_tps[f]}" -v p="${mix_tps[p]}" \
		'BEGIN { printf "shop mix floor (plain, each delivery read logged by a row committed before it returns, a key row per new customer, searches not logged): %.2f x the plain TPS; protected %.2f x the floor\n", f / x, p / f }'
fi
if [ "$stream_reps" -gt 0 ]; then
	echo "== a steady stream: the same whole-table statement $stream_reps times, sent back to back by pgbench as separate statements, in $stream_rounds turns of a connection each, the audit writer's work included"
	echo "   (a connection's first statement, which also loads its keys, is reported apart: 'first')"
	cp bench/stream/*.pgb "$SERVER_DIR/"
	settle
	declare -A stream_ms first_ms
	# The variants take turns, stream_rounds connections each of
	# stream_reps / stream_rounds statements (after the connection's
	# first): the machine's speed drifts within minutes, and a slow stretch
	# would otherwise land on one variant's whole stream.
	per_round=$(( (stream_reps + stream_rounds - 1) / stream_rounds ))
	rm -f "$SERVER_DIR"/stream_log*
	for round in $(seq "$stream_rounds"); do
		for v in plain pgcrypto reveal masked reveal_groups_only; do
			f=$v opts=
			if [ "$v" = reveal_groups_only ]; then f=reveal opts="-c privacy_guard.audit_subjects=off"; fi
			# pgbench's per-statement log (-l): the elapsed microseconds are its third field
			(cd "$SERVER_DIR" && as_user env PGOPTIONS="$opts" pgbench -n -c 1 -t $((per_round + 1)) -l \
				--log-prefix="stream_log.${v}.$round" \
				-f "$SERVER_DIR/$f.pgb" -h "$SERVER_DIR" -p "$SERVER_PORT" -U postgres postgres >/dev/null 2>&1)
		done
	done
	for v in plain pgcrypto reveal masked reveal_groups_only; do
		read -r first_ms[$v] stream_ms[$v] < <(awk 'FNR == 1 { first += $3; nf++; next } { sum += $3; n++ }
			END { printf "%.2f %.2f\n", first / nf / 1000, n ? sum / n / 1000 : 0 }' "$SERVER_DIR"/stream_log."${v}".*)
	done
	for v in plain pgcrypto reveal masked reveal_groups_only; do
		awk -v v="$v" -v ms="${stream_ms[$v]}" -v p="${stream_ms[plain]}" -v c="${stream_ms[pgcrypto]}" -v r="$rows" -v f="${first_ms[$v]}" \
			'BEGIN { printf "%-20s %8.1f ms a statement  %6.0f ns a row  %5.2f x plain  %5.2f x pgcrypto  (first %.1f ms)\n", v, ms, ms * 1e6 / r, ms / p, ms / c, f }'
	done
	awk -v on="${stream_ms[reveal]}" -v off="${stream_ms[reveal_groups_only]}" \
		'BEGIN { printf "audit subject sets: %.1f%% of an audited reveal (reveal with them / without: %.2f)\n", 100 * (on - off) / on, on / off }'
	awk -v all="$(awk -v f="${first_ms[reveal]}" -v s="${stream_ms[reveal]}" -v n="$stream_reps" 'BEGIN { print (f + s * n) / (n + 1) }')" \
		-v p="${stream_ms[plain]}" -v pf="${first_ms[plain]}" -v n="$stream_reps" \
		'BEGIN { printf "reveal counting the first statement too: %.1f ms a statement, %.2f x plain\n", all, all / ((pf + p * n) / (n + 1)) }'
fi
if [ "$search_seconds" -gt 0 ]; then
	echo "== search: one lookup a statement, sent back to back by pgbench (-M prepared), ${search_seconds}s each in ${search_rounds} turns, the audit writer's work included"
	server_psql -v ON_ERROR_STOP=1 -f - <bench/search.sql
	cp bench/search/*.pgb "$SERVER_DIR/"
	settle
	# One client measures latency; on a small virtual machine an idle CPU
	# wakes slowly, which slows the plain lookup more than a search that
	# keeps the audit writer busy.  Two clients keep both cores busy: the
	# ratio is then the cost in CPU.
	# The variants take turns, search_rounds rounds of a share of the time
	# each: on a shared virtual machine the speed drifts by tens of percent
	# within minutes, which would land on whichever variant ran then.  Every
	# other round runs them in the reverse order (plain, blind_index, ...,
	# then ..., blind_index, plain), so that a steady drift weighs on the
	# plain lookup and the search alike.
	variants=(plain blind_index plaintext floor_minimal floor_batched floor)
	for clients in 1 2; do
		declare -A round_us=()
		for round in $(seq "$search_rounds"); do
			order=("${variants[@]}")
			[ $((round % 2)) = 1 ] || order=($(printf '%s\n' "${variants[@]}" | tac))
			for v in "${order[@]}"; do
				# a floor's record does not make its search wait for the disk (nor does a search's audit record)
				round_us[$v]+=" $(as_user env PGOPTIONS="$(case $v in floor*) echo "-c synchronous_commit=off" ;; esac)" \
					pgbench -n -M prepared -c "$clients" -j "$clients" -T "$(( search_seconds / search_rounds > 0 ? search_seconds / search_rounds : 1 ))" \
					-D rows="$rows" -D purposed=0 -D n=0 \
					-f "$SERVER_DIR/$v.pgb" -h "$SERVER_DIR" -p "$SERVER_PORT" -U postgres postgres 2>&1 |
					awk -v c="$clients" '/^tps = / { printf "%.1f", 1e6 * c / $3 }')"
			done
		done
		for v in plain floor floor_batched floor_minimal plaintext blind_index; do
			# the mean over the rounds, and each round's ratio to that round's plain lookup
			awk -v v="$v" -v us="${round_us[$v]}" -v p="${round_us[plain]}" -v c="$clients" 'BEGIN {
				n = split(us, u, " "); split(p, q, " ")
				for (i = 1; i <= n; i++) { su += u[i]; sp += q[i]; r[i] = u[i] / q[i] }
				# the rounds ratios sorted (insertion sort: a few rounds)
				for (i = 2; i <= n; i++) for (j = i; j > 1 && r[j] < r[j - 1]; j--) { t = r[j]; r[j] = r[j - 1]; r[j - 1] = t }
				med = n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
				printf "%d client%s  %-14s %8.1f us a lookup  %5.2f x plain  (rounds %.2f-%.2f, median %.2f)\n",
					c, (c > 1 ? "s" : " "), v, su / n, su / sp, r[1], r[n], med }'
		done
	done
fi
if [ "$standby_seconds" -gt 0 ]; then
	echo "== a hot standby: one-row reveals sent back to back by pgbench (-M prepared), ${standby_seconds}s on each server; the standby's record is committed by the primary first"
	standby_port=$((SERVER_PORT + 1))
	as_user bash -c "
		set -e
		pg_basebackup -h '$SERVER_DIR' -p $SERVER_PORT -U postgres -D '$SERVER_DIR/standby' -R -X stream -c fast
		cat >> '$SERVER_DIR/standby/postgresql.conf' <<CONF
port = $standby_port
cluster_name = 'bench_standby'
CONF
		pg_ctl -D '$SERVER_DIR/standby' -l '$SERVER_DIR/standby.log' -w start >/dev/null
	"
	cp bench/standby/*.pgb "$SERVER_DIR/"
	primary_us=
	for port in "$SERVER_PORT" "$standby_port"; do
		us=$(as_user pgbench -n -M prepared -c 1 -T "$standby_seconds" -D rows="$rows" \
			-f "$SERVER_DIR/reveal_one.pgb" -h "$SERVER_DIR" -p "$port" -U postgres postgres 2>&1 |
			awk '/^tps = / { printf "%.1f", 1e6 / $3 }')
		[ -n "$primary_us" ] || primary_us=$us
		awk -v s="$([ "$port" = "$SERVER_PORT" ] && echo primary || echo standby)" -v us="$us" -v p="$primary_us" \
			'BEGIN { printf "%-8s %8.1f us a reveal  %+8.1f us against the primary\n", s, us, us - p }'
	done
	# a round trip to the primary here (a local socket), for comparison
	as_user pgbench -n -M prepared -c 1 -T 3 -f "$SERVER_DIR/round_trip.pgb" -h "$SERVER_DIR" -p "$SERVER_PORT" -U postgres postgres 2>&1 |
		awk '/^tps = / { printf "round trip SELECT 1 %6.1f us (the standby adds one, plus the primary writer'"'"'s commit)\n", 1e6 / $3 }'
	as_user pg_ctl -D "$SERVER_DIR/standby" -m fast stop >/dev/null
fi
if [ "$protect_rows" -gt 0 ]; then
	echo "== protect() on an existing table"
	server_psql -v ON_ERROR_STOP=1 -v protect_rows="$protect_rows" -f - <bench/protect.sql
	echo "== memory: one backend reveals all $protect_rows values of that table, each its own subject (private memory sampled every 20 ms)"
	server_psql -v ON_ERROR_STOP=1 -f - <bench/memory.sql >"$SERVER_DIR/memory.out" &
	reveal_psql=$!
	pid=
	while [ -z "$pid" ] && kill -0 "$reveal_psql" 2>/dev/null; do
		pid=$(server_psql -At -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'privacy_guard_bench_memory'")
	done
	# the peak sampled from outside; "after" as the backend read it itself
	peak_kb=0
	while [ -n "$pid" ] && kb=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) && [ -n "$kb" ]; do
		[ "$kb" -le "$peak_kb" ] || peak_kb=$kb
		sleep 0.02
	done
	wait "$reveal_psql"
	grep -v '^after_kb ' "$SERVER_DIR/memory.out"
	after_kb=$(awk '/^after_kb / { print $2 }' "$SERVER_DIR/memory.out")
	[ "$peak_kb" -ge "$after_kb" ] || peak_kb=$after_kb
	awk -v p="$peak_kb" -v a="$after_kb" -v r="$protect_rows" \
		'BEGIN { printf "backend private memory (RssAnon): peak %.0f MiB during the statement, %.0f MiB after it (%d subjects)\n", p / 1024, a / 1024, r }'
fi
for n in $erase_customers; do
	echo "== erasure of one subject among $n customers (two orders each)"
	server_psql -v ON_ERROR_STOP=1 -v customers="$n" -f - <bench/erasure.sql
done
if [ "$scan_rows" -gt 0 ]; then
	echo "== discovery: scan(1000) on a table of $scan_rows rows"
	server_psql -v ON_ERROR_STOP=1 -v scan_rows="$scan_rows" -f - <bench/scan.sql
fi
