#!/usr/bin/env bash
# A stalled MySQL server never hangs a load: with read_timeout '2' a
# SIGSTOPped mariadbd (during a query, or before a connection) or a source
# that sends nothing (SELECT SLEEP(30)) makes the call fail within a bound,
# with an error, leaving the target as it was; once MariaDB resumes
# (SIGCONT), the abandoned statement leaves its process list.
cd "$(dirname "$0")/../.." || exit 1
. regress/t/lib.sh

cleanup_mysql() {
	t_mysql -e "DROP VIEW IF EXISTS ts_src"
}
T_CLEANUP=cleanup_mysql
trap t_finish EXIT

t_ensure_mariadb
if ! t_setup_db; then
	t_not_ok "stall: set-up"
	exit 1
fi

t_mysql -e "CREATE OR REPLACE VIEW ts_src AS
	SELECT CAST(seq AS SIGNED) AS id, CONCAT('name', seq) AS name FROM seq_1_to_1000"
t_psql >/dev/null <<SQL
CREATE SERVER stall FOREIGN DATA WRAPPER pypeline_mysql
	OPTIONS (host '127.0.0.1', port '$MYSQL_PORT', dbname 'pypeline_regress',
	         read_timeout '2', connect_timeout '2');
CREATE USER MAPPING FOR CURRENT_USER SERVER stall OPTIONS (username 'etl', password 'etl_secret');
SELECT pypeline.define_dimension('ts_dim', 'stall', 'SELECT id, name FROM ts_src', 'ts_dim', '{id}');
SELECT pypeline.define_dimension('ts_sleep', 'stall', 'SELECT 1 AS id, SLEEP(30) AS slept', 'ts_sleep_dim', '{id}');
SQL
t_is "$(t_sql "SELECT rows FROM pypeline.process_etl('ts_dim', 'dimension')" 2>&1)" 1000 \
	"stall: first load of the dimension"
before=$(t_checksum ts_dim)

# ---------------------------------------------- SIGSTOP during a query
# The source pauses 1 s at row 500,000 (less than read_timeout): the test
# stops mariadbd during that pause, so the stall begins mid-stream.
t_mysql -e "CREATE OR REPLACE VIEW ts_src AS
	SELECT CAST(seq AS SIGNED) AS id, CONCAT('name', seq) AS name FROM seq_1_to_2000000
	WHERE seq <> 500000 OR SLEEP(1) = 0"
t_bg "$T_WORK/stop.out" t_stall_stop "SELECT * FROM pypeline.process_etl('ts_dim', 'dimension')"
mysqld_pid=$(t_mariadb_pid)
if t_wait_mysql_query "%FROM ts_src%" 30 "User sleep"; then
	kill -STOP "$mysqld_pid"
	stopped_at=$(t_now_ms)
	if t_wait_pid "$T_BG_PID" 30; then
		elapsed=$(($(t_now_ms) - stopped_at))
		out=$(cat "$T_WORK/stop.out")
		t_unlike "$(cat "$T_WORK/stop.out.rc")" '^0$' "stall: a load from a stopped server fails"
		if [ "$elapsed" -lt 15000 ]; then
			t_ok "stall: it fails within 15 s (${elapsed} ms after SIGSTOP)"
		else
			t_not_ok "stall: it fails within 15 s (${elapsed} ms after SIGSTOP)"
		fi
		t_like "$out" 'ERROR: .*MySQL server "stall"' "stall: the error names the MySQL server"
		t_like "$out" 'dimension ETL "ts_dim"' "stall: the error names the ETL"
		printf '%s\n' "$out" | t_diag
	else
		t_not_ok "stall: a load from a stopped server ends within 30 s"
	fi
else
	t_not_ok "stall: the source reached its pause at row 500,000"
fi
t_resume_mariadb "$mysqld_pid"
t_is "$(t_checksum ts_dim)" "$before" "stall: the target is unchanged"
if t_wait_mysql_query_gone "%FROM ts_src%" 10; then
	t_ok "stall: after SIGCONT the abandoned query leaves the MariaDB process list"
else
	t_not_ok "stall: after SIGCONT the abandoned query leaves the MariaDB process list"
	t_mysql_queries "%FROM ts_src%" | t_diag
fi

# ------------------------------------------- SIGSTOP before connecting
t_mysql -e "CREATE OR REPLACE VIEW ts_src AS
	SELECT CAST(seq AS SIGNED) AS id, CONCAT('name', seq) AS name FROM seq_1_to_1000"
kill -STOP "$mysqld_pid"
start=$(t_now_ms)
T_PSQL_TIMEOUT=30 t_sql_capture "$T_WORK/connect.out" "SELECT * FROM pypeline.process_etl('ts_dim', 'dimension')"
rc=$?
elapsed=$(($(t_now_ms) - start))
t_resume_mariadb "$mysqld_pid"
out=$(cat "$T_WORK/connect.out")
t_unlike "$rc" '^0$' "stall: connecting to a stopped server fails"
if [ "$rc" -ne 124 ] && [ "$elapsed" -lt 8000 ]; then
	t_ok "stall: it fails within connect_timeout plus a margin (${elapsed} ms)"
else
	t_not_ok "stall: it fails within connect_timeout plus a margin (${elapsed} ms, psql status $rc)"
fi
t_like "$out" 'could not connect to MySQL server "stall"' "stall: the error says it could not connect"
printf '%s\n' "$out" | t_diag
t_is "$(t_checksum ts_dim)" "$before" "stall: the target is still unchanged"

# ------------------------------------------- a source that sends nothing
start=$(t_now_ms)
T_PSQL_TIMEOUT=40 t_sql_capture "$T_WORK/sleep.out" "SELECT * FROM pypeline.process_etl('ts_sleep', 'dimension')"
rc=$?
elapsed=$(($(t_now_ms) - start))
out=$(cat "$T_WORK/sleep.out")
t_unlike "$rc" '^0$' "stall: SELECT SLEEP(30) as a source fails with read_timeout 2"
if [ "$elapsed" -lt 10000 ]; then
	t_ok "stall: it fails within 10 s (${elapsed} ms)"
else
	t_not_ok "stall: it fails within 10 s (${elapsed} ms)"
fi
t_like "$out" 'ERROR: .*MySQL server "stall"' "stall: the error names the MySQL server"
t_like "$out" 'dimension ETL "ts_sleep"' "stall: the error names the ETL"
printf '%s\n' "$out" | t_diag
if t_wait_mysql_query_gone "%SLEEP(30)%" 5; then
	t_ok "stall: the SLEEP(30) query is killed on MariaDB"
else
	t_not_ok "stall: the SLEEP(30) query is killed on MariaDB"
	t_mysql_queries "%SLEEP(30)%" | t_diag
fi
t_is "$(t_sql "SELECT count(*) FROM pg_tables WHERE tablename = 'ts_sleep_dim'")" 0 \
	"stall: no target was created by the failed load"

# the server works normally afterwards
t_is "$(t_sql "SELECT rows FROM pypeline.process_etl('ts_dim', 'dimension')" 2>&1)" 1000 \
	"stall: a load works again once MariaDB runs"

# ----------------- pg_terminate_backend while MariaDB stalls, default timeouts
# With read_timeout 3600, only pypeline's own bound on the statement-killing
# connection (a few seconds per step) stands between pg_terminate_backend
# and a backend that never ends.
t_psql >/dev/null <<SQL
CREATE SERVER patient FOREIGN DATA WRAPPER pypeline_mysql
	OPTIONS (host '127.0.0.1', port '$MYSQL_PORT', dbname 'pypeline_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER patient OPTIONS (username 'etl', password 'etl_secret');
SELECT pypeline.define_dimension('ts_patient', 'patient', 'SELECT 1 AS id, SLEEP(20) AS slept', 'ts_patient_dim', '{id}');
SQL
t_bg "$T_WORK/patient.out" t_stall_patient "SELECT * FROM pypeline.process_etl('ts_patient', 'dimension')"
patient_job=$T_BG_PID
if t_wait_mysql_query "%SLEEP(20)%" 30; then
	backend=$(t_backend_pid t_stall_patient)
	kill -STOP "$mysqld_pid"
	start=$(t_now_ms)
	t_sql "SELECT pg_terminate_backend($backend)" >/dev/null
	gone=no
	while [ "$(($(t_now_ms) - start))" -lt 20000 ]; do
		if [ "$(T_PSQL_TIMEOUT=5 t_sql "SELECT count(*) FROM pg_stat_activity WHERE pid = $backend")" = 0 ]; then
			gone=yes
			break
		fi
		sleep 0.1
	done
	elapsed=$(($(t_now_ms) - start))
	t_resume_mariadb "$mysqld_pid"
	if [ "$gone" = yes ] && [ "$elapsed" -lt 10000 ]; then
		t_ok "stall: a terminated backend ends within 10 s while MariaDB is stopped (${elapsed} ms)"
	else
		t_not_ok "stall: a terminated backend ends within 10 s while MariaDB is stopped (${elapsed} ms, gone: $gone)"
	fi
else
	t_not_ok "stall: the patient source started"
fi
t_wait_pid "$patient_job" 20
t_ensure_mariadb
t_wait_mysql_query_gone "%SLEEP(20)%" 30 >/dev/null
