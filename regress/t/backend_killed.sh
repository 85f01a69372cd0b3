#!/usr/bin/env bash
# A PostgreSQL backend killed with SIGKILL in the middle of a load: the
# postmaster ends every session and reinitializes (crash recovery); once it
# accepts connections again, the target, the successful runs in
# pypeline.run_log and the watermark are exactly as before the load, no
# lock is left, and the next run loads everything.
#   1. a synchronous dimension load killed while the source streams;
#   2. the same load killed while it writes the target;
#   3. the worker of an asynchronous process_etl task: the task ends FAILURE
#      (task_status and wait mark dead workers), never stuck in STARTED;
#   4. the coordinating worker of a parallel refresh: the refresh and its
#      sub-tasks end, none is left STARTED or PENDING.
# (A killed backend cannot write its failure row in pypeline.run_log: the
# count is only reported.)
cd "$(dirname "$0")/../.." || exit 1
. regress/t/lib.sh

# Queries of killed backends that MariaDB still runs (a SLEEP does not
# notice that its client is gone).
kill_leftover_queries() {
	local id
	for id in $(t_mysql_queries "%FROM tb_%" | cut -f1); do
		t_mysql -e "KILL $id" 2>/dev/null
	done
}
cleanup_mysql() {
	kill_leftover_queries
	t_mysql -e "DROP VIEW IF EXISTS tb_src; DROP TABLE IF EXISTS tb_ctl"
}
T_CLEANUP=cleanup_mysql
trap t_finish EXIT

t_ensure_mariadb
if ! t_setup_db; then
	t_not_ok "backend_killed: set-up"
	exit 1
fi
ROWS=300000

# tb_ctl.v picks the source's version: 1 'name<id>', 2 'renamed<id>'; with
# pause = 1 the source stops 10 s at row 150,000.
t_mysql -e "
	CREATE OR REPLACE TABLE tb_ctl (v INT NOT NULL, pause INT NOT NULL) ENGINE=Aria;
	INSERT INTO tb_ctl VALUES (1, 0);
	CREATE OR REPLACE VIEW tb_src AS
		SELECT CAST(seq AS SIGNED) AS id, CONCAT(IF(c.v = 1, 'name', 'renamed'), seq) AS name
		FROM seq_1_to_$ROWS, tb_ctl c WHERE seq <> 150000 OR c.pause = 0 OR SLEEP(10) = 0"
source_version() {
	t_mysql -e "UPDATE tb_ctl SET v = $1, pause = $2"
}

t_psql >/dev/null <<'SQL'
SELECT pypeline.define_dimension('tb_dim', 'src', 'SELECT id, name FROM tb_src', 'tb_dim', '{id}');
-- one row each, after 20 s
SELECT pypeline.define_dimension('tb_slow' || i, 'src', 'SELECT 1 AS id, ''x'' AS name, SLEEP(20) AS pause FROM tb_ctl',
	'tb_slow' || i || '_dim', '{id}', active => false)
FROM generate_series(1, 3) i;
SQL

source_version 1 0
t_is "$(T_PSQL_TIMEOUT=120 t_sql "SELECT rows FROM pypeline.process_etl('tb_dim', 'dimension')" 2>&1)" $ROWS \
	"backend_killed: first load of the dimension"

# Everything a killed load must leave alone; the keys of the members too.
state() {
	echo "dim $(t_checksum tb_dim)"
	echo "run_log $(t_checksum "(SELECT * FROM pypeline.run_log WHERE status = 'success')")"
	echo "watermark $(t_checksum pypeline.watermark)"
}
before=$(state)
keys_before=$(t_checksum "(SELECT tb_dim_key, id FROM tb_dim)")

# after_sync_kill LABEL OUTFILE: checks the killed call and the state it left
after_sync_kill() {
	local label=$1 out=$2 failures
	if t_wait_pid "$T_BG_PID" 30; then
		t_unlike "$(cat "$out.rc")" '^0$' "backend_killed: $label: the killed call did not succeed"
		t_like "$(cat "$out")" "server closed the connection unexpectedly|terminating connection" \
			"backend_killed: $label: its client lost the connection"
	else
		t_not_ok "backend_killed: $label: the killed call's client ended"
	fi
	t_is "$(state)" "$before" "backend_killed: $label: target, successful runs and watermark as before"
	t_is "$(t_sql "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
		WHERE d.datname = current_database() AND l.pid <> pg_backend_pid()
		  AND (l.locktype = 'advisory' OR l.relation = 'pypeline.dimension'::regclass)")" 0 \
		"backend_killed: $label: no lock is left"
	failures=$(t_wait_failures tb_dim 99 1)
	t_diag "failure rows of tb_dim in run_log: $failures (a killed backend cannot write one)"
}

# ------------------------------------------- 1. while the source streams
source_version 2 1
t_bg "$T_WORK/stream.out" t_killed_stream "SELECT * FROM pypeline.process_etl('tb_dim', 'dimension')"
if t_wait_mysql_query "%FROM tb_src%" 60 "User sleep"; then
	pid=$(t_backend_pid t_killed_stream)
	if [ -n "$pid" ]; then
		t_crash_kill backend_killed "killed while the source streams" "$pid"
		after_sync_kill "killed while the source streams" "$T_WORK/stream.out"
	else
		t_not_ok "backend_killed: the backend of the streaming load was found"
	fi
else
	t_not_ok "backend_killed: the source reached its pause at row 150,000"
	t_wait_pid "$T_BG_PID" 60
fi
if t_wait_mysql_query_gone "%FROM tb_src%" 15; then
	t_diag "the killed backend's MySQL query ended"
else
	t_diag "the killed backend's MySQL query still runs on MariaDB 15 s later"
fi

# ------------------------------------------- 2. while the target is written
source_version 2 0
t_bg "$T_WORK/write.out" t_killed_write "SELECT * FROM pypeline.process_etl('tb_dim', 'dimension')"
if t_wait_sql 60 "SELECT EXISTS (SELECT 1 FROM pypeline.progress WHERE etl_name = 'tb_dim' AND phase = 'writing target')"; then
	pid=$(t_backend_pid t_killed_write)
	sleep 0.2
	if [ -n "$pid" ]; then
		t_crash_kill backend_killed "killed while it writes the target" "$pid"
		after_sync_kill "killed while it writes the target" "$T_WORK/write.out"
	else
		t_not_ok "backend_killed: the backend of the load writing its target was found"
	fi
else
	t_not_ok "backend_killed: the load reached the phase 'writing target'"
	t_wait_pid "$T_BG_PID" 60
fi

# the next run loads everything, and the members keep their keys
got=$(T_PSQL_TIMEOUT=120 t_sql "SELECT rows FROM pypeline.process_etl('tb_dim', 'dimension')" 2>&1)
t_is "$got" $ROWS "backend_killed: the next run reads every row"
t_is "$(t_sql "SELECT count(*) FILTER (WHERE name = 'renamed' || id) || ' ' || count(*) FROM tb_dim WHERE tb_dim_key <> -1")" \
	"$ROWS $ROWS" "backend_killed: and updates every member"
t_is "$(t_checksum "(SELECT tb_dim_key, id FROM tb_dim)")" "$keys_before" \
	"backend_killed: the members keep their surrogate keys"
t_is "$(t_sql "SELECT rows_inserted || ' ' || rows_updated || ' ' || rows_unchanged FROM pypeline.run_log
	WHERE status = 'success' ORDER BY id DESC LIMIT 1")" "0 $ROWS 0" "backend_killed: its run-log row counts the updates"

# ------------------------------------------- 3. an asynchronous task's worker
task=$(t_sql "SELECT pypeline.process_etl_async('tb_slow1', 'dimension')")
if t_wait_sql 30 "SELECT state = 'STARTED' FROM pypeline.task WHERE id = $task" &&
	t_wait_mysql_query "%SLEEP(20)%" 30 "User sleep"; then
	# (the STARTED mark is committed without waiting for the WAL flush:
	# give the WAL writer time, or the restart could undo it)
	sleep 1
	pid=$(t_sql "SELECT worker_pid FROM pypeline.task WHERE id = $task")
	t_crash_kill backend_killed "a task's worker killed" "$pid"
	start=$(t_now_ms)
	t_is "$(t_sql "SELECT pypeline.wait($task, '30 seconds')" 2>&1)" FAILURE \
		"backend_killed: wait reports the killed worker's task FAILURE"
	elapsed=$(($(t_now_ms) - start))
	if [ "$elapsed" -lt 5000 ]; then
		t_ok "backend_killed: at once (${elapsed} ms)"
	else
		t_not_ok "backend_killed: at once (${elapsed} ms)"
	fi
	t_is "$(t_sql "SELECT pypeline.task_status($task)")" FAILURE "backend_killed: task_status too"
	t_like "$(t_sql "SELECT error FROM pypeline.task WHERE id = $task")" "worker process ended" \
		"backend_killed: the task's error says its worker ended"
	t_like "$(t_sql "SELECT pypeline.task_result($task)" 2>&1)" "ERROR: +task $task failed" \
		"backend_killed: task_result raises the failure"
	t_is "$(t_sql "SELECT to_regclass('tb_slow1_dim') IS NULL")" t "backend_killed: the task's target was not created"
else
	t_not_ok "backend_killed: the task started"
	t_sql "SELECT pypeline.revoke($task)" >/dev/null
fi

# --------------------------------- 4. the coordinator of a parallel refresh
kill_leftover_queries
# three dimensions, two at a time: the third sub-task waits its turn
t_sql "SELECT pypeline.set_active('tb_dim', 'dimension', false);
	SELECT pypeline.set_active('tb_slow' || i, 'dimension', true) FROM generate_series(1, 3) i" >/dev/null
parent=$(t_sql "SET pypeline.max_parallel_etls = 2; SELECT pypeline.refresh_data_warehouse_async(true, false, false)")
if t_wait_sql 30 "SELECT count(*) = 2 FROM pypeline.task WHERE parent_id = $parent AND state = 'STARTED'" &&
	t_wait_mysql_query "%SLEEP(20)%" 30 "User sleep"; then
	sleep 1
	t_diag "$(t_sql "SELECT string_agg(arguments ->> 'name' || ' ' || state, ', ' ORDER BY id) FROM pypeline.task WHERE parent_id = $parent")"
	pid=$(t_sql "SELECT worker_pid FROM pypeline.task WHERE id = $parent")
	t_crash_kill backend_killed "a parallel refresh's coordinator killed" "$pid"
	t_is "$(t_sql "SELECT pypeline.wait($parent, '30 seconds')" 2>&1)" FAILURE \
		"backend_killed: wait reports the killed refresh FAILURE"
	t_is "$(t_sql "SELECT count(*) FROM pypeline.task WHERE (id = $parent OR parent_id = $parent)
		AND state IN ('PENDING', 'STARTED')")" 0 \
		"backend_killed: no task of the killed refresh is left PENDING or STARTED"
	t_sql "SELECT id, coalesce(arguments ->> 'name', 'refresh') || ' ' || state || ' ' || coalesce(error, '')
		FROM pypeline.task WHERE id = $parent OR parent_id = $parent ORDER BY id" | t_diag
	t_is "$(t_sql "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'tb_slow%'")" 0 \
		"backend_killed: no target of the killed refresh was created"
else
	t_not_ok "backend_killed: the refresh started two sub-tasks"
	t_sql "SELECT pypeline.revoke($parent)" >/dev/null
fi

# the database works normally afterwards
t_sql "SELECT pypeline.set_active('tb_slow' || i, 'dimension', false) FROM generate_series(1, 3) i" >/dev/null
t_is "$(t_sql "SELECT count(*) FROM tb_dim")" $((ROWS + 1)) "backend_killed: the dimension is still there after the last restart"
t_is "$(t_sql "SELECT x FROM pypeline.query('src', 'SELECT 7') AS t(x int)" 2>&1)" 7 \
	"backend_killed: pypeline works after the restarts"
