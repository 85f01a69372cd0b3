#!/usr/bin/env bash
# Parallel refresh: K independent dimensions refreshed one after another in
# one transaction (pypeline.refresh_data_warehouse) against the same ETLs run
# by background workers at once (pypeline.refresh_data_warehouse_async with
# pypeline.max_parallel_etls = K).  doc/performance.md, "Parallel refresh".
#
#   bash contrib/bench/parallel.sh                 # after make install
#   PAR_DIMS=2 PAR_ROWS=100000 PAR_REPEAT=1 bash contrib/bench/parallel.sh   # quick
#
# Environment:
#   PAR_DIMS    independent dimensions (default 4); odd ones are type 2
#               (change date column), even ones type 1
#   PAR_ROWS    source rows per dimension (default 500000)
#   PAR_REPEAT  runs of each scenario; the best is reported (default 3)
#   PAR_FULL    1 (default) also times full rebuilds; 0 skips them
#
# Every dimension is defined twice over the same MariaDB table: par_seq_<k>
# (run by the sequential scenarios) and par_par_<k> (by the parallel ones);
# pypeline.set_active picks the set a refresh runs.  Both sets get their
# first load, then each repetition changes 1% of every source (a tracked
# value and the change date) and runs both refreshes, alternating which goes
# first, so both do the same work on the same data.  Scenarios:
#
#   incremental_sequential  SELECT * FROM pypeline.refresh_data_warehouse(true, false, false)
#   incremental_parallel    SET pypeline.max_parallel_etls = K;
#                           SELECT pypeline.refresh_data_warehouse_async(true, false, false);
#                           SELECT pypeline.wait(<task>, '1 hour');   (a statement of its own:
#                           the task starts when the submitting transaction commits)
#   rebuild_sequential      SELECT * FROM pypeline.refresh_data_warehouse(true, false, true)
#   rebuild_parallel_tasks  K x pypeline.process_etl_async(<dim>, 'dimension', true) in one
#                           statement, then pypeline.wait on each
#   rebuild_async_refresh   pypeline.refresh_data_warehouse_async(true, false, true): a
#                           rebuilding refresh runs in one worker, in one transaction, by
#                           design (doc/design.md, Tasks), so it is not expected to be faster
#
# Times are taken inside the psql session (clock_timestamp() before the first
# statement and after the last), so connecting is not counted; the parallel
# times include starting the workers and wait()'s 50 ms polling.  CPU seconds
# of the PostgreSQL processes (postmaster and children, exited workers
# included), of mariadbd, and of everything else on the machine (other
# people's tests) are read from /proc around each run.
#
# Checks: after every run, each target's row count and checksum (md5 over
# every column but the surrogate key, which only numbers the rows) must be
# what the other set's target of the same dimension has for the same source
# state, with the expected number of versions; every task must end in
# SUCCESS; and a parallel run must have had at least two workers (distinct
# worker_pid) running sub-tasks at once (overlapping [started_at,
# finished_at)).  A failed check prints MISMATCH and makes the run exit 1.
#
# Standalone it starts its own throwaway MariaDB + PostgreSQL 15
# (regress/servers.sh); with BENCH_SERVERS_UP=1 (from run.sh) it reuses the
# running servers.  Either way it works in a PostgreSQL database of its own,
# bench_parallel, so no other ETL is part of the refreshes.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. regress/servers.sh
. contrib/bench/lib.sh

DIMS=${PAR_DIMS:-4}
ROWS=${PAR_ROWS:-500000}
REPEAT=${PAR_REPEAT:-3}
FULL=${PAR_FULL:-1}
for v in DIMS ROWS REPEAT; do
	case ${!v} in '' | *[!0-9]*) echo "PAR_$v must be a positive integer, not \"${!v}\"" >&2; exit 2 ;; esac
	[ "${!v}" -gt 0 ] || { echo "PAR_$v must be positive" >&2; exit 2; }
done
[ "$ROWS" -ge 100 ] || { echo "PAR_ROWS must be at least 100 (1% of it changes)" >&2; exit 2; }
case $FULL in 0 | 1) ;; *) echo "PAR_FULL must be 0 or 1" >&2; exit 2 ;; esac
[ "$DIMS" -le 12 ] || echo "warning: PAR_DIMS=$DIMS; the harness has max_worker_processes = 16 (pg_cron and the" \
	"logical replication launcher take two), so some tasks may wait for a free worker"
CHANGED=$((ROWS / 100))		# rows with id % 100 = 0
CLK_TCK=$(getconf CLK_TCK)


# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------
if [ -z "${BENCH_SERVERS_UP:-}" ]; then
	echo "== starting throwaway MariaDB and PostgreSQL 15"
	servers_start bench_parallel || exit 1
	bench_setup_mariadb || exit 1
	# as in run.sh: no background VACUUM/ANALYZE taking a core from a timed run
	bench_psql -d postgres -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null || exit 1
fi
export PGDATABASE=bench_parallel
bench_psql -d postgres -c "DROP DATABASE IF EXISTS bench_parallel" -c "CREATE DATABASE bench_parallel" || exit 1
bench_setup_pypeline || exit 1

# ---------------------------------------------------------------------------
# Sources: par_src_1 .. par_src_K in MariaDB, deterministic (SEQUENCE engine)
# ---------------------------------------------------------------------------
echo "== generating $DIMS source tables of $ROWS rows in MariaDB"
bench_t0
for k in $(seq 1 "$DIMS"); do
	mysql_root "$BENCH_MYSQL_DB" <<-SQL || exit 1
		DROP TABLE IF EXISTS par_src_$k;
		CREATE TABLE par_src_$k (
			id INT UNSIGNED PRIMARY KEY,
			name VARCHAR(60) NOT NULL,
			category CHAR(2),
			amount DECIMAL(12,2),
			score INT NOT NULL,
			visits SMALLINT UNSIGNED,
			born DATE,
			note VARCHAR(100),
			updated_at DATETIME NOT NULL
		) ENGINE=InnoDB;
		INSERT INTO par_src_$k
		SELECT seq,
			CONCAT(ELT(1 + (seq + $k) % 5, 'Ana', 'Björn', 'Zoë', 'O''Brien', '李小龍'), ' ', seq),
			IF((seq + $k) % 97 = 0, NULL, ELT(1 + (seq * $k) % 4, 'TX', 'CA', 'CO', 'NY')),
			IF(seq % 53 = 0, NULL, (seq * 7919 * $k % 10000000) / 100),
			CAST(seq * 31 * $k % 2001 AS SIGNED) - 1000,
			(seq + $k) % 65536,
			DATE'1950-01-01' + INTERVAL ((seq + $k) % 20000) DAY,
			CONCAT('note ', $k, ' ', MD5(seq)),
			TIMESTAMP'2015-01-02 00:00:00' + INTERVAL (seq * 37 % 126230400) SECOND
		FROM seq_1_to_$ROWS;
		ANALYZE TABLE par_src_$k;
	SQL
done >/dev/null
bench_t1
echo "generated in $ELAPSED s"

COLUMNS_SQL="id, name, category, amount, score, visits, born, note, updated_at"
scd_of() { echo $(($1 % 2 == 1 ? 2 : 1)); }
{
	echo "SET client_min_messages = warning;"
	for set in seq par; do
		for k in $(seq 1 "$DIMS"); do
			if [ "$(scd_of "$k")" = 2 ]; then
				extra="scd_type => 2, change_date_column => 'updated_at'"
			else
				extra="scd_type => 1"
			fi
			echo "SELECT pypeline.define_dimension('par_${set}_$k', 'bench',
				'SELECT $COLUMNS_SQL FROM par_src_$k', 'par_${set}_${k}_dim',
				natural_key => '{id}', $extra);"
		done
	done
} | bench_psql >/dev/null || exit 1

# Makes the dimensions of one set (seq, par or all) the active ones.
activate() {
	bench_psql -c "SELECT count(pypeline.set_active(name, 'dimension', '$1' = 'all' OR name LIKE 'par\\_$1\\_%'))
		FROM pypeline.dimension" >/dev/null
}

# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------
# CPU ticks so far: "postgres mariadbd machine_busy".  postgres is the
# postmaster's own and reaped children's time plus its live children's, so a
# worker that ended during a run is counted; machine_busy is /proc/stat's
# user+nice+system+irq+softirq+steal over all cores.  The postmaster is read
# before and after its children, and the reading is repeated until it did not
# change meanwhile: a child reaped during the scan would otherwise be counted
# twice or not at all (a backend exits just as its psql session ends).
cpu_snapshot() {
	local pm my pg myt busy first last sum _
	pm=$(head -1 "$PYPELINE_TMP/pg/postmaster.pid")
	my=$(cat "$PYPELINE_TMP/mysql.pid")
	for _ in $(seq 1 50); do
		# (cat, not awk, opens the files: a process may end meanwhile)
		read -r first last sum < <(cat "/proc/$pm/stat" /proc/[0-9]*/stat "/proc/$pm/stat" 2>/dev/null |
			awk -v pm="$pm" '{
				line = $0; sub(/^.*\) /, "", line); split(line, f, " ")
				# f[2] ppid, f[12] utime, f[13] stime, f[14] cutime, f[15] cstime
				if ($1 == pm) { v = f[12] + f[13] + f[14] + f[15]; if (!seen++) first = v; last = v }
				else if (f[2] == pm) sum += f[12] + f[13]
			} END { print first + 0, last + 0, sum + 0 }')
		[ "$first" = "$last" ] && break
		sleep 0.05
	done
	pg=$((last + sum))
	myt=$(awk '{ line = $0; sub(/^.*\) /, "", line); split(line, f, " "); print f[12] + f[13] }' "/proc/$my/stat")
	busy=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat)
	echo "$pg $myt $busy"
}

# cpu_delta BEFORE AFTER: sets CPU_PG CPU_MY CPU_OTHER (seconds)
cpu_delta() {
	read -r CPU_PG CPU_MY CPU_OTHER <<<"$(awk -v a="$1" -v b="$2" -v hz="$CLK_TCK" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		pg = (y[1] - x[1]) / hz; my = (y[2] - x[2]) / hz; other = (y[3] - x[3]) / hz - pg - my
		if (other < 0) other = 0
		printf "%.1f %.1f %.1f", pg, my, other }')"
}

# Workers of a set of tasks (an SQL condition on pypeline.task): sets
# TASKS_SEEN, TASKS_OK, WORKER_PIDS (distinct), MAX_CONCURRENT (most tasks
# whose [started_at, finished_at) overlap) and TASK_SPAN (first start to last
# end, s).
task_stats() {
	local out
	out=$(bench_psql -F ' ' -c "
		WITH s AS (SELECT * FROM pypeline.task WHERE $1),
		e AS (SELECT started_at AS t, 1 AS d FROM s UNION ALL SELECT finished_at, -1 FROM s)
		SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM s WHERE state = 'SUCCESS'),
		       (SELECT count(DISTINCT worker_pid) FROM s),
		       coalesce((SELECT max(c) FROM (SELECT sum(d) OVER (ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS c
		                                     FROM e WHERE t IS NOT NULL) x), 0),
		       (SELECT round(extract(epoch FROM max(finished_at) - min(started_at))::numeric, 3) FROM s)")
	read -r TASKS_SEEN TASKS_OK WORKER_PIDS MAX_CONCURRENT TASK_SPAN <<<"$out"
}

# What went wrong with a set of tasks.
task_errors() {
	bench_psql -F ' | ' -c "SELECT id, parent_id, arguments ->> 'name', state, error
		FROM pypeline.task WHERE $1 AND state <> 'SUCCESS' ORDER BY id"
}

# Runs SQL in one session between two clock readings; sets ELAPSED and
# RESULT (what the statements printed), and the CPU split of the run.
timed() {
	local before after out
	bench_psql -c "CHECKPOINT" >/dev/null
	before=$(cpu_snapshot)
	out=$(bench_psql -F ' ' 2>&1 <<-SQL
		SELECT extract(epoch FROM clock_timestamp()) AS bench_t0 \gset
		$1
		SELECT round((extract(epoch FROM clock_timestamp()) - :bench_t0)::numeric, 3);
	SQL
	)
	local rc=$?
	after=$(cpu_snapshot)
	if [ $rc -ne 0 ]; then
		echo "$out"
		return $rc
	fi
	ELAPSED=$(tail -1 <<<"$out")
	RESULT=$(sed '$d' <<<"$out")
	cpu_delta "$before" "$after"
}

run_sequential() {	# incremental or rebuild
	local rebuild=false
	[ "$1" = rebuild ] && rebuild=true
	activate seq || return 1
	# a rebuild WARNs that it discarded the type 2 history: meant here, and not the result
	timed "SET client_min_messages = error;
		SELECT count(*), sum(rows) FROM pypeline.refresh_data_warehouse(true, false, $rebuild);" || return 1
	[ "$RESULT" = "$DIMS $((ROWS * DIMS))" ] || { echo "refresh_data_warehouse returned \"$RESULT\", expected \"$DIMS $((ROWS * DIMS))\""; return 1; }
	TASKS_SEEN=0 TASKS_OK=0 WORKER_PIDS=1 MAX_CONCURRENT=1 TASK_SPAN=$ELAPSED
}

# The incremental refresh (rebuild=false, sub-tasks per dimension) or the
# rebuilding one (rebuild=true, one worker) through refresh_data_warehouse_async.
run_async_refresh() {
	local rebuild=$1 task state cond
	activate par || return 1
	timed "SET pypeline.max_parallel_etls = $DIMS;
		SELECT pypeline.refresh_data_warehouse_async(true, false, $rebuild) AS task \gset
		SELECT pypeline.wait(:task, '1 hour') AS state \gset
		SELECT :task, :'state';" || return 1
	read -r task state <<<"$RESULT"
	if [ "$rebuild" = true ]; then cond="id = $task"; else cond="parent_id = $task"; fi
	task_stats "$cond"
	if [ "$state" != SUCCESS ] || [ "$TASKS_OK" != "$TASKS_SEEN" ]; then
		echo "task $task ended $state:"
		task_errors "id = $task OR parent_id = $task"
		return 1
	fi
	[ "$rebuild" = true ] || [ "$TASKS_SEEN" = "$DIMS" ] ||
		{ echo "task $task had $TASKS_SEEN sub-tasks, expected $DIMS"; return 1; }
	PARENT_STATS=$(bench_psql -F ' ' -c "SELECT round(extract(epoch FROM t.started_at - t.submitted_at)::numeric, 3),
			round(extract(epoch FROM (SELECT min(started_at) FROM pypeline.task WHERE parent_id = t.id) - t.started_at)::numeric, 3),
			round(extract(epoch FROM t.finished_at - t.submitted_at)::numeric, 3)
		FROM pypeline.task t WHERE id = $task")
}

# K independent tasks, one per dimension, submitted in one statement.
run_rebuild_tasks() {
	activate par || return 1
	timed "SELECT array_agg(pypeline.process_etl_async(name, 'dimension', true) ORDER BY position)::text AS ids
			FROM pypeline.dimension WHERE active \gset
		SELECT string_agg(pypeline.wait(id, '1 hour'), ',') FROM unnest(:'ids'::bigint[]) AS id;
		SELECT :'ids';" || return 1
	local states ids
	states=$(sed -n 1p <<<"$RESULT")
	ids=$(sed -n 2p <<<"$RESULT")
	task_stats "id = ANY ('$ids')"
	if [ "$TASKS_OK" != "$DIMS" ]; then
		echo "tasks $ids ended $states:"
		task_errors "id = ANY ('$ids')"
		return 1
	fi
}

# Checksum of a target without its surrogate key: "rows versions_closed md5".
checksum() {	# table, surrogate key column
	bench_psql -F ' ' -c "SELECT count(*), count(*) FILTER (WHERE (j ->> 'is_current')::boolean IS FALSE),
		coalesce(md5(string_agg(h, '' ORDER BY h)), '-')
		FROM (SELECT j, md5(j::text) AS h FROM (SELECT to_jsonb(t) - '$2' AS j FROM $1 t) x) y"
}

# Checks one set's targets against the state expected after PHASE
# ("incremental R": R changes of 1% applied; "rebuild"), and against the other
# set's targets for the same phase.
declare -A REF=()
check_set() {	# set, phase, scenario
	local set=$1 phase=$2 name=$3 k sum rows closed want_rows want_closed r=0 ok=1
	[ "${phase%% *}" = incremental ] && r=${phase#* }
	for k in $(seq 1 "$DIMS"); do
		sum=$(checksum "par_${set}_${k}_dim" "par_${set}_${k}_key") || { mismatch "$name: cannot read par_${set}_${k}_dim"; ok=0; continue; }
		read -r rows closed _ <<<"$sum"
		want_closed=0
		[ "$(scd_of "$k")" = 2 ] && want_closed=$((CHANGED * r))
		want_rows=$((ROWS + 1 + want_closed))
		if [ "$rows $closed" != "$want_rows $want_closed" ]; then
			mismatch "$name: par_${set}_${k}_dim has $rows rows, $closed closed versions; expected $want_rows, $want_closed"
			ok=0
		elif [ -z "${REF[$phase/$k]:-}" ]; then
			REF[$phase/$k]="$sum"
		elif [ "${REF[$phase/$k]}" != "$sum" ]; then
			mismatch "$name: par_${set}_${k}_dim: $sum, but the other run of this phase gave ${REF[$phase/$k]}"
			ok=0
		fi
	done
	[ $ok = 1 ] && CHECKS_OK=$((CHECKS_OK + 1))
	return 0
}

declare -A BEST=() BEST_CPU=() BEST_WORKERS=() CHECK_OF=()
ORDER=()
CHECKS_OK=0
# record NAME: keeps the run if it is the best so far
record() {
	local name=$1
	[[ " ${ORDER[*]} " == *" $name "* ]] || ORDER+=("$name")
	echo "-- $name: $ELAPSED s (CPU s: postgres $CPU_PG, mariadbd $CPU_MY, other processes $CPU_OTHER;" \
		"workers $WORKER_PIDS, at most $MAX_CONCURRENT at once, first start to last end $TASK_SPAN s${PARENT_STATS:+; submit→start, start→first sub-task, submit→end: $PARENT_STATS})"
	if [ "$name" != "${name%parallel}" ] || [ "$name" = rebuild_parallel_tasks ]; then
		if [ "$DIMS" -ge 2 ] && { [ "$WORKER_PIDS" -lt 2 ] || [ "$MAX_CONCURRENT" -lt 2 ]; }; then
			mismatch "$name ran on $WORKER_PIDS worker(s), at most $MAX_CONCURRENT at once: not in parallel"
			CHECK_OF[$name]="NOT PARALLEL"
		fi
	fi
	if [ -z "${BEST[$name]:-}" ] || awk -v a="$ELAPSED" -v b="${BEST[$name]}" 'BEGIN { exit !(a < b) }'; then
		BEST[$name]=$ELAPSED
		BEST_CPU[$name]="$CPU_PG $CPU_MY $CPU_OTHER"
		BEST_WORKERS[$name]=$WORKER_PIDS
	fi
	# the most concurrency any run of the scenario showed
	if [ -z "${MOST_CONCURRENT[$name]:-}" ] || [ "$MAX_CONCURRENT" -gt "${MOST_CONCURRENT[$name]}" ]; then
		MOST_CONCURRENT[$name]=$MAX_CONCURRENT
	fi
	PARENT_STATS=
}
declare -A MOST_CONCURRENT=()
PARENT_STATS=

# one timed run with its checks: scenario, set, phase, function, args...
scenario() {
	local name=$1 set=$2 phase=$3
	shift 3
	if ! "$@"; then
		mismatch "$name failed (see above)"
		CHECK_OF[$name]=FAILED
		return 1
	fi
	local before=$CHECKS_OK
	check_set "$set" "$phase" "$name"
	[ "$CHECKS_OK" -gt "$before" ] || CHECK_OF[$name]=MISMATCH
	record "$name"
}

echo
echo "== first load of the $((2 * DIMS)) dimensions (two sets of $DIMS), one after another"
activate all || exit 1
timed "SELECT count(*), sum(rows) FROM pypeline.refresh_data_warehouse(true, false, false);" || exit 1
echo "first load: $RESULT (dimensions, rows) in $ELAPSED s"
check_set seq "incremental 0" first_load
check_set par "incremental 0" first_load
bench_psql -c "ANALYZE" || exit 1

LOG_FIRST=$(bench_psql -c "SELECT coalesce(max(id), 0) FROM pypeline.run_log")

echo
echo "== incremental refresh after 1% of each source changed ($CHANGED rows per dimension), $REPEAT run(s) each"
for r in $(seq 1 "$REPEAT"); do
	for k in $(seq 1 "$DIMS"); do
		echo "UPDATE par_src_$k SET score = score + 1,
			updated_at = TIMESTAMP'2020-06-01 00:00:00' + INTERVAL $r DAY WHERE id % 100 = 0;"
	done | mysql_root "$BENCH_MYSQL_DB" || exit 1
	# alternate which goes first: the second run finds the source in
	# MariaDB's buffer pool and the targets in shared buffers just as well
	if [ $((r % 2)) = 1 ]; then
		scenario incremental_sequential seq "incremental $r" run_sequential incremental
		scenario incremental_parallel par "incremental $r" run_async_refresh false
	else
		scenario incremental_parallel par "incremental $r" run_async_refresh false
		scenario incremental_sequential seq "incremental $r" run_sequential incremental
	fi
done

LOG_INCREMENTAL=$(bench_psql -c "SELECT coalesce(max(id), 0) FROM pypeline.run_log")

if [ "$FULL" = 1 ]; then
	echo
	echo "== full rebuild (delete_existing_tables => true), $REPEAT run(s) each"
	for r in $(seq 1 "$REPEAT"); do
		if [ $((r % 2)) = 1 ]; then
			scenario rebuild_sequential seq rebuild run_sequential rebuild
			scenario rebuild_parallel_tasks par rebuild run_rebuild_tasks
			scenario rebuild_async_refresh par rebuild run_async_refresh true
		else
			scenario rebuild_async_refresh par rebuild run_async_refresh true
			scenario rebuild_parallel_tasks par rebuild run_rebuild_tasks
			scenario rebuild_sequential seq rebuild run_sequential rebuild
		fi
	done
fi

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "== results: PAR_DIMS=$DIMS PAR_ROWS=$ROWS PAR_REPEAT=$REPEAT (best of $REPEAT; types: $(
	for k in $(seq 1 "$DIMS"); do printf '%s' "$(scd_of "$k")"; done))"
echo "   $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo);" \
	"$(mysql_root -N -B -e 'SELECT VERSION()'); $(bench_psql -c 'SHOW server_version');" \
	"max_worker_processes $(bench_psql -c 'SHOW max_worker_processes'); load average now $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %12s %11s %9s %12s %9s  %s\n' "refresh of $DIMS dimensions" "sequential s" "parallel s" speed-up \
	"max at once" workers check
row() {	# label, sequential scenario, parallel scenario
	local s=${BEST[$2]:-} p=${BEST[$3]:-} check=ok
	[ -z "${CHECK_OF[$2]:-}${CHECK_OF[$3]:-}" ] || check="${CHECK_OF[$2]:-ok}/${CHECK_OF[$3]:-ok}"
	[ -n "$s" ] && [ -n "$p" ] || { printf '%-34s %12s %11s %9s %12s %9s  %s\n' "$1" "${s:--}" "${p:--}" - - - "$check"; return; }
	printf '%-34s %12s %11s %9s %12s %9s  %s\n' "$1" "$s" "$p" "$(ratio "$s" "$p")x" \
		"${MOST_CONCURRENT[$3]}" "${BEST_WORKERS[$3]}" "$check"
}
row "incremental, 1% changed" incremental_sequential incremental_parallel
if [ "$FULL" = 1 ]; then
	row "rebuild, K process_etl_async" rebuild_sequential rebuild_parallel_tasks
	row "rebuild, refresh_..._async (1 wkr)" rebuild_sequential rebuild_async_refresh
fi
echo "max at once: most sub-tasks whose [started_at, finished_at) overlapped, over all runs;"
echo "workers: distinct worker_pid in the best run.  CPU seconds of the best run of each scenario:"
printf '   %-26s %8s %9s %9s %15s\n' scenario postgres mariadbd other "cores busy/wall"
for name in "${ORDER[@]}"; do
	[ -n "${BEST[$name]:-}" ] || continue
	read -r pg my other <<<"${BEST_CPU[$name]}"
	printf '   %-26s %8s %9s %9s %15s\n' "$name" "$pg" "$my" "$other" \
		"$(awk -v a="$pg" -v b="$my" -v c="$other" -v s="${BEST[$name]}" 'BEGIN { printf "%.2f", (a + b + c) / s }')"
done

echo "Each incremental ETL (pypeline.run_log, best of $REPEAT), alone and while the others ran:"
bench_psql -F ' ' -c "SELECT substr(etl_name, 9)::int AS k, substr(etl_name, 5, 3) AS set,
		min(extract(epoch FROM finished_at - started_at))
	FROM pypeline.run_log WHERE id > $LOG_FIRST AND id <= $LOG_INCREMENTAL AND status = 'success'
	GROUP BY 1, 2 ORDER BY 1, 2" |
	awk -v types="$(for k in $(seq 1 "$DIMS"); do printf '%s ' "$(scd_of "$k")"; done)" '
		BEGIN { split(types, t, " "); printf "   %-10s %5s %14s %14s %9s\n", "dimension", "type", "sequential s", "parallel s", "slowdown" }
		$2 == "seq" { s[$1] = $3 } $2 == "par" { p[$1] = $3; if ($1 > n) n = $1 }
		END { for (k = 1; k <= n; k++) printf "   %-10s %5s %14.3f %14.3f %8.2fx\n", "par_*_" k, t[k], s[k], p[k], p[k] / s[k] }'

echo
for name in "${ORDER[@]}"; do
	if [ -z "${BEST[$name]:-}" ]; then
		echo "BENCH scenario=parallel_$name dims=$DIMS rows_per_dim=$ROWS failed=1 check=${CHECK_OF[$name]:-FAILED}"
		continue
	fi
	read -r pg my other <<<"${BEST_CPU[$name]}"
	line="BENCH scenario=parallel_$name dims=$DIMS rows_per_dim=$ROWS seconds=${BEST[$name]}"
	case $name in
		incremental_parallel) line="$line speedup=$(ratio "${BEST[incremental_sequential]:-0}" "${BEST[$name]}")" ;;
		rebuild_parallel_tasks | rebuild_async_refresh) line="$line speedup=$(ratio "${BEST[rebuild_sequential]:-0}" "${BEST[$name]}")" ;;
	esac
	echo "$line max_concurrent=${MOST_CONCURRENT[$name]} workers=${BEST_WORKERS[$name]} cpu_postgres_s=$pg cpu_mariadb_s=$my cpu_other_s=$other check=${CHECK_OF[$name]:-ok}"
done

echo
if [ "$FAILED" -ne 0 ]; then
	echo "MISMATCH: some runs failed, differ or did not run in parallel (see above); the timings do not count."
	exit 1
fi
echo "all runs checked: same rows and checksums in both sets, every parallel run on several workers at once"
