#!/usr/bin/env bash
# A captured dimension's run interrupted the hard ways leaves the dimension
# and its stored binary log position as they were, and the next run applies
# every change once: afterwards the captured dimension's current rows equal
# those of a dimension of the same source read whole (the model).
#   1. the PostgreSQL backend killed with SIGKILL after the changes were
#      applied, before its transaction committed;
#   2. MariaDB killed (and restarted) as soon as a run's dump of the log
#      starts: the run fails with the server named (or, if it had read the
#      whole log already, succeeds); either way the next run is right.
# The table's rows carry a wide column the dimension does not read, so the
# log of a run is tens of megabytes, more than the sockets buffer.
cd "$(dirname "$0")/../.." || exit 1
. regress/t/lib.sh

ROWS=100000
cleanup_mysql() {
	t_mysql -e "DROP TABLE IF EXISTS tc_item; DROP USER IF EXISTS tc_capture@'%'"
}
T_CLEANUP=cleanup_mysql
trap t_finish EXIT

t_ensure_mariadb
if ! t_setup_db; then
	t_not_ok "capture_killed: set-up"
	exit 1
fi
t_mysql -e "
	CREATE OR REPLACE TABLE tc_item (id INT PRIMARY KEY, name VARCHAR(40), n INT NOT NULL, pad CHAR(250) NOT NULL DEFAULT '');
	INSERT INTO tc_item SELECT seq, CONCAT('name', seq), 0, REPEAT('p', 250) FROM seq_1_to_$ROWS;
	DROP USER IF EXISTS tc_capture@'%';
	CREATE USER tc_capture@'%' IDENTIFIED BY 'tc_secret';
	GRANT SELECT ON pypeline_regress.* TO tc_capture@'%';
	GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO tc_capture@'%'"
t_psql >/dev/null <<SQL
CREATE SERVER cap FOREIGN DATA WRAPPER pypeline_mysql
	OPTIONS (host '127.0.0.1', port '$MYSQL_PORT', dbname 'pypeline_regress', fetch_size '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER cap OPTIONS (username 'tc_capture', password 'tc_secret');
SELECT pypeline.define_dimension(n, 'cap', 'SELECT id, name, n FROM tc_item', n || '_dim', '{id}',
	scd_type => 2, deletes => 'invalidate', max_closed_fraction => 1,
	capture => CASE n WHEN 'tc_cap' THEN 'binlog' END)
FROM unnest(ARRAY['tc_cap', 'tc_ref']) n;
SELECT pypeline.process_etl('tc_cap', 'dimension');
SELECT pypeline.process_etl('tc_ref', 'dimension');
SQL

state() {
	echo "dim $(t_checksum tc_cap_dim)"
	echo "position $(t_sql "SELECT value FROM pypeline.watermark WHERE etl_name = 'tc_cap'")"
}
# LABEL: the captured dimension's current rows are the model's, its history holds
change_some() {
	t_mysql -e "
		UPDATE tc_item SET n = n + 1, name = CONCAT('renamed', id) WHERE id % 3 = 0;
		UPDATE tc_item SET n = n + 1 WHERE id % 6 = 0;
		DELETE FROM tc_item WHERE id % 1000 = 1;
		INSERT INTO tc_item (id, name, n) SELECT $ROWS + seq + 1000 * (SELECT COUNT(*) FROM tc_item WHERE id > $ROWS), 'new', 0 FROM seq_1_to_100"
}
equals_model() {
	local label=$1
	T_PSQL_TIMEOUT=120 t_sql "SELECT pypeline.process_etl('tc_ref', 'dimension')" >/dev/null
	t_is "$(t_sql "SELECT count(*) FROM ((SELECT id, name, n FROM tc_cap_dim WHERE is_current AND id <> -1
	                                      EXCEPT SELECT id, name, n FROM tc_ref_dim WHERE is_current)
	                                     UNION ALL
	                                     (SELECT id, name, n FROM tc_ref_dim WHERE is_current AND id <> -1
	                                      EXCEPT SELECT id, name, n FROM tc_cap_dim WHERE is_current)) d")" 0 \
		"capture_killed: $label: the captured dimension's current rows are the model's"
	t_is "$(t_sql "SELECT count(*) FROM pypeline.check_dimension('tc_cap')")" 0 \
		"capture_killed: $label: its history holds every invariant"
}

# ----------------------------- 1. killed after applying, before committing
change_some
before=$(state)
t_bg "$T_WORK/kill.out" t_capture_kill "BEGIN" "SELECT rows FROM pypeline.process_etl('tc_cap', 'dimension')" \
	"SELECT pg_sleep(60)" "COMMIT"
if t_wait_sql 60 "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 't_capture_kill' AND wait_event = 'PgSleep')"; then
	t_crash_kill capture_killed "killed before its commit" "$(t_backend_pid t_capture_kill)"
	t_wait_pid "$T_BG_PID" 30
	t_unlike "$(cat "$T_WORK/kill.out.rc")" '^0$' "capture_killed: the killed run did not commit"
	t_is "$(state)" "$before" "capture_killed: the dimension and its binary log position are as before"
else
	t_not_ok "capture_killed: the run applied the changes and waited to commit"
	cat "$T_WORK/kill.out" | t_diag
fi
t_is "$(T_PSQL_TIMEOUT=120 t_sql "SELECT rows > 0 FROM pypeline.process_etl('tc_cap', 'dimension')")" t \
	"capture_killed: the next run applies the changes"
equals_model "after the kill"
t_is "$(t_sql "SELECT count(*) FROM tc_cap_dim WHERE id = 6")" 3 \
	"capture_killed: a member updated twice between runs has two new versions"

# ------------------------------------- 2. MariaDB killed while a run reads the log
change_some
change_some
before=$(state)
offset=$(t_log_offset)
t_bg "$T_WORK/mariadb.out" t_capture_mariadb "SELECT rows FROM pypeline.process_etl('tc_cap', 'dimension')"
dump_started() {
	local deadline=$(($(t_now_ms) + 60000))
	while [ "$(t_now_ms)" -lt "$deadline" ]; do
		[ -n "$(T_MYSQL_TIMEOUT=5 t_mysql -e "SELECT id FROM information_schema.processlist
			WHERE user = 'tc_capture' AND command LIKE 'Binlog Dump%'" 2>/dev/null)" ] && return 0
		kill -0 "$T_BG_PID" 2>/dev/null || return 1
	done
	return 1
}
if dump_started; then
	kill -9 "$(t_mariadb_pid)"
	t_wait_pid "$T_BG_PID" 60
	if [ "$(cat "$T_WORK/mariadb.out.rc")" = 0 ]; then
		t_diag "the run had read the log before MariaDB died: it succeeded"
		t_ok "capture_killed: the run interrupted by MariaDB's death succeeded or failed cleanly"
	else
		t_like "$(cat "$T_WORK/mariadb.out")" 'MySQL server "cap"' \
			"capture_killed: the run interrupted by MariaDB's death failed naming the server"
		t_is "$(state)" "$before" "capture_killed: the dimension and its binary log position are as before MariaDB died"
	fi
else
	t_not_ok "capture_killed: the run started reading the log"
	cat "$T_WORK/mariadb.out" | t_diag
	t_wait_pid "$T_BG_PID" 60
fi
t_is "$(t_crashes_since "$offset")" "" "capture_killed: no PostgreSQL process crashed when MariaDB died"
t_ensure_mariadb
t_is "$(T_PSQL_TIMEOUT=120 t_sql "SELECT rows >= 0 FROM pypeline.process_etl('tc_cap', 'dimension')")" t \
	"capture_killed: the run after MariaDB's restart succeeds"
equals_model "after MariaDB's restart"

# ------------------------------- 3. a continuous capture through a MariaDB restart
task=$(t_sql "SELECT pypeline.start_capture('tc_cap', every => '100 milliseconds')")
t_mysql -e "UPDATE tc_item SET name = 'before the restart' WHERE id = 2"
if t_wait_sql 60 "SELECT EXISTS (SELECT 1 FROM tc_cap_dim WHERE id = 2 AND is_current AND name = 'before the restart')"; then
	t_ok "capture_killed: the capture worker applies a change"
else
	t_not_ok "capture_killed: the capture worker applies a change"
fi
kill -9 "$(t_mariadb_pid)"
if t_wait_sql 60 "SELECT last_error IS NOT NULL FROM pypeline.capture_status WHERE etl_name = 'tc_cap'"; then
	t_ok "capture_killed: capture_status shows the error while MariaDB is down"
	t_diag "$(t_sql "SELECT state || ': ' || last_error FROM pypeline.capture_status WHERE etl_name = 'tc_cap'")"
else
	t_not_ok "capture_killed: capture_status shows the error while MariaDB is down"
fi
t_ensure_mariadb
t_mysql -e "UPDATE tc_item SET name = 'after the restart' WHERE id = 2"
if t_wait_sql 90 "SELECT EXISTS (SELECT 1 FROM tc_cap_dim WHERE id = 2 AND is_current AND name = 'after the restart')"; then
	t_ok "capture_killed: the same worker follows the log again once MariaDB is back"
else
	t_not_ok "capture_killed: the same worker follows the log again once MariaDB is back"
	t_sql "SELECT * FROM pypeline.capture_status" | t_diag
fi
t_is "$(t_sql "SELECT state || ' ' || (task_id = $task) FROM pypeline.capture_status WHERE etl_name = 'tc_cap'")" "STARTED true" \
	"capture_killed: the capture task still runs"
t_is "$(t_sql "SELECT pypeline.stop_capture('tc_cap')") $(t_sql "SELECT pypeline.wait($task, '60 seconds')")" "t REVOKED" \
	"capture_killed: stop_capture ends it"
equals_model "after the continuous capture"
