#!/usr/bin/env bash
# MariaDB dies (SIGKILL) in the middle of a load of 2,000,000 rows: the call
# fails with an error naming the ETL; the target, the successful runs in
# pypeline.run_log and the watermark are exactly as before, and the run log
# gains one failure row for the run; once MariaDB is back, the next run
# loads everything.  Once for a dimension, once for an incremental fact.
#
# The source views stream 2,000,000 rows from the SEQUENCE engine and pause
# (SLEEP) at row 1,000,000, so the kill lands while the rows are streaming:
# the test waits for the pause to show in the MariaDB process list.
cd "$(dirname "$0")/../.." || exit 1
. regress/t/lib.sh

cleanup_mysql() {
	t_mysql -e "DROP VIEW IF EXISTS tk_dim_src, tk_fact_src; DROP TABLE IF EXISTS tk_cust"
}
T_CLEANUP=cleanup_mysql
trap t_finish EXIT

t_ensure_mariadb
if ! t_setup_db; then
	t_not_ok "mariadb_killed: set-up"
	exit 1
fi

# small sources first
t_mysql -e "
	CREATE OR REPLACE VIEW tk_dim_src AS
		SELECT CAST(seq AS SIGNED) AS id, CONCAT('name', seq) AS name FROM seq_1_to_1000;
	CREATE OR REPLACE TABLE tk_cust (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL);
	INSERT INTO tk_cust SELECT seq, CONCAT('cust', seq) FROM seq_1_to_100;
	CREATE OR REPLACE VIEW tk_fact_src AS
		SELECT CAST(seq AS SIGNED) AS id, CAST(seq % 100 + 1 AS SIGNED) AS cust_id,
		       CAST(seq * 2 AS SIGNED) AS amount FROM seq_1_to_1000;"

t_psql >/dev/null <<'SQL'
SELECT pypeline.define_dimension('tk_dim', 'src', 'SELECT id, name FROM tk_dim_src', 'tk_dim', '{id}');
SELECT pypeline.define_dimension('tk_cust', 'src', 'SELECT id, name FROM tk_cust', 'tk_cust_dim', '{id}');
SELECT pypeline.define_fact('tk_fact', 'src', 'SELECT id, cust_id, amount FROM tk_fact_src', 'tk_fact',
	lookups => '{"tk_cust": "cust_id"}', measures => '{amount}', degenerate_columns => '{id}',
	incremental_column => 'id');
SQL

got=$(t_sql "SELECT string_agg(rows::text, ',') FROM (
	SELECT (pypeline.process_etl('tk_dim', 'dimension')).rows
	UNION ALL SELECT (pypeline.process_etl('tk_cust', 'dimension')).rows
	UNION ALL SELECT (pypeline.process_etl('tk_fact', 'fact')).rows) r" 2>&1)
t_is "$got" "1000,100,1000" "mariadb_killed: first loads of the small sources"
t_is "$(t_sql "SELECT value FROM pypeline.watermark WHERE etl_type = 'fact' AND etl_name = 'tk_fact'")" "1000" \
	"mariadb_killed: watermark after the first fact load"

# Everything a failed run must leave alone.
state() {
	echo "dim $(t_checksum tk_dim)"
	echo "cust $(t_checksum tk_cust_dim)"
	echo "fact $(t_checksum tk_fact)"
	echo "run_log $(t_checksum "(SELECT * FROM pypeline.run_log WHERE status = 'success')")"
	echo "watermark $(t_checksum pypeline.watermark)"
}

# kill_during KIND NAME VIEW: starts process_etl in the background, waits for
# the source to pause at row 1,000,000, kills MariaDB with SIGKILL and checks
# the outcome of the call.
kill_during() {
	local kind=$1 name=$2 view=$3 before after out pid killed_at elapsed
	before=$(state)
	t_bg "$T_WORK/$name.out" "t_killed_$name" "SELECT * FROM pypeline.process_etl('$name', '$kind')"
	if ! t_wait_mysql_query "%FROM $view%" 60 "User sleep"; then
		t_not_ok "mariadb_killed: the $kind source reached row 1,000,000"
		t_mysql -e "SELECT id, state, info FROM information_schema.processlist" 2>&1 | t_diag
		t_wait_pid "$T_BG_PID" 60
		return 1
	fi
	pid=$(t_mariadb_pid)
	kill -9 "$pid"
	killed_at=$(t_now_ms)
	if t_wait_pid "$T_BG_PID" 30; then
		elapsed=$(($(t_now_ms) - killed_at))
		t_ok "mariadb_killed: the $kind load ended ${elapsed} ms after the kill"
	else
		t_not_ok "mariadb_killed: the $kind load still runs 30 s after MariaDB was killed"
		return 1
	fi
	out=$(cat "$T_WORK/$name.out")
	t_unlike "$(cat "$T_WORK/$name.out.rc")" '^0$' "mariadb_killed: the $kind call failed"
	t_like "$out" "ERROR: .*MySQL server \"src\"" "mariadb_killed: the $kind error names the MySQL server"
	t_like "$out" "$kind ETL \"$name\"" "mariadb_killed: the $kind error names the ETL"
	t_unlike "$out" "server closed the connection unexpectedly|terminated by signal" \
		"mariadb_killed: the PostgreSQL backend survived"
	printf '%s\n' "$out" | t_diag
	after=$(state)
	t_is "$after" "$before" "mariadb_killed: target, successful runs in run_log and watermark unchanged by the failed $kind load"
	t_is "$(t_wait_failures "$name" 1)" 1 "mariadb_killed: the failed $kind run is in run_log"
	t_like "$(t_sql "SELECT target || ': ' || message FROM pypeline.run_log WHERE status = 'failure' AND etl_name = '$name'")" \
		"^$name: could not fetch rows from MySQL server \"src\"" "mariadb_killed: with the error as its message"
	t_is "$(t_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 't_killed_$name'")" 0 \
		"mariadb_killed: no session left behind by the failed $kind load"
}

# -------------------------------------------------------------- dimension
t_mysql -e "CREATE OR REPLACE VIEW tk_dim_src AS
	SELECT CAST(seq AS SIGNED) AS id, CONCAT('name', seq) AS name FROM seq_1_to_2000000
	WHERE seq <> 1000000 OR SLEEP(10) = 0"
kill_during dimension tk_dim tk_dim_src

t_check "mariadb_killed: MariaDB restarted after the dimension kill" t_ensure_mariadb
t_mysql -e "CREATE OR REPLACE VIEW tk_dim_src AS
	SELECT CAST(seq AS SIGNED) AS id, CONCAT('name', seq) AS name FROM seq_1_to_2000000"
log_before=$(t_sql "SELECT count(*) FROM pypeline.run_log WHERE status = 'success'")
got=$(T_PSQL_TIMEOUT=120 t_sql "SELECT rows FROM pypeline.process_etl('tk_dim', 'dimension')" 2>&1)
t_is "$got" 2000000 "mariadb_killed: the next dimension run reads all 2,000,000 rows"
t_is "$(T_PSQL_TIMEOUT=120 t_sql "SELECT count(*) || ' ' || sum(id) || ' ' || count(*) FILTER (WHERE name IS DISTINCT FROM 'name' || id)
	|| ' ' || count(DISTINCT tk_dim_key) FROM tk_dim WHERE tk_dim_key <> -1")" \
	"2000000 2000001000000 0 2000000" "mariadb_killed: the dimension holds every member once"
t_is "$(t_sql "SELECT count(*) FROM tk_dim WHERE tk_dim_key = -1")" 1 \
	"mariadb_killed: the dimension still has its unknown member"
t_is "$(t_sql "SELECT count(*) - $log_before FROM pypeline.run_log WHERE status = 'success'")" 1 \
	"mariadb_killed: one more successful run in run_log after the dimension run"
t_is "$(t_sql "SELECT etl_name || ' ' || status || ' ' || rows_read || ' ' || rows_inserted
	FROM pypeline.run_log WHERE status = 'success' ORDER BY id DESC LIMIT 1")" \
	"tk_dim success 2000000 1999000" "mariadb_killed: it logs the rows read and inserted"

# -------------------------------------------------------------------- fact
t_mysql -e "CREATE OR REPLACE VIEW tk_fact_src AS
	SELECT CAST(seq AS SIGNED) AS id, CAST(seq % 100 + 1 AS SIGNED) AS cust_id,
	       CAST(seq * 2 AS SIGNED) AS amount FROM seq_1_to_2000000
	WHERE seq <> 1000000 OR SLEEP(10) = 0"
kill_during fact tk_fact tk_fact_src

t_check "mariadb_killed: MariaDB restarted after the fact kill" t_ensure_mariadb
t_mysql -e "CREATE OR REPLACE VIEW tk_fact_src AS
	SELECT CAST(seq AS SIGNED) AS id, CAST(seq % 100 + 1 AS SIGNED) AS cust_id,
	       CAST(seq * 2 AS SIGNED) AS amount FROM seq_1_to_2000000"
got=$(T_PSQL_TIMEOUT=120 t_sql "SELECT rows FROM pypeline.process_etl('tk_fact', 'fact')" 2>&1)
t_is "$got" 1999000 "mariadb_killed: the next fact run reads the 1,999,000 rows past the watermark"
t_is "$(T_PSQL_TIMEOUT=120 t_sql "SELECT count(*) || ' ' || count(DISTINCT f.id) || ' ' || sum(f.amount) || ' ' || count(*) FILTER (WHERE tk_cust_key = -1)
	|| ' ' || count(*) FILTER (WHERE c.id IS DISTINCT FROM f.id % 100 + 1)
	FROM tk_fact f LEFT JOIN tk_cust_dim c USING (tk_cust_key)")" \
	"2000000 2000000 4000002000000 0 0" "mariadb_killed: the fact holds every row once, with the right customer"
t_is "$(t_sql "SELECT value FROM pypeline.watermark WHERE etl_type = 'fact' AND etl_name = 'tk_fact'")" 2000000 \
	"mariadb_killed: the watermark moved to the last row"
