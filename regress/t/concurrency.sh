#!/usr/bin/env bash
# Concurrent runs of the same ETL are serialised by the lock of their definition row: a
# first session runs inside BEGIN ... and holds the lock while it sleeps
# (pg_sleep(3)) before COMMIT; a second session waits, says so in a NOTICE,
# and both succeed with the same final tables as a single run.
#   1. process_etl of a dimension (incremental from no table, and rebuild);
#   2. refresh_data_warehouse (rebuild, and incremental after source changes);
#   3. process_etl of an incremental fact after new source rows.
cd "$(dirname "$0")/../.." || exit 1
. regress/t/lib.sh

cleanup_mysql() {
	t_mysql -e "DROP VIEW IF EXISTS tcc_users_v, tcc_orders_v; DROP TABLE IF EXISTS tcc_users, tcc_orders, tcc_ctl"
}
T_CLEANUP=cleanup_mysql
trap t_finish EXIT

t_ensure_mariadb
if ! t_setup_db; then
	t_not_ok "concurrency: set-up"
	exit 1
fi

# Sources in versions: tcc_ctl.v = 1, 2 or 3 picks what the views return.
# Version 2 renames every 10th user (updated later) and adds users and
# orders; version 3 adds orders.
t_mysql -e "
	CREATE OR REPLACE TABLE tcc_ctl (v INT NOT NULL) ENGINE=Aria;
	INSERT INTO tcc_ctl VALUES (1);
	CREATE OR REPLACE TABLE tcc_users (id INT PRIMARY KEY, since INT NOT NULL,
		name1 VARCHAR(30) NOT NULL, name2 VARCHAR(30) NOT NULL,
		updated1 DATETIME NOT NULL, updated2 DATETIME NOT NULL);
	INSERT INTO tcc_users SELECT seq, IF(seq > 500, 2, 1), CONCAT('user', seq),
		IF(seq % 10 = 0, CONCAT('renamed', seq), CONCAT('user', seq)),
		'2020-01-01', IF(seq % 10 = 0, '2021-06-01', '2020-01-01') FROM seq_1_to_550;
	CREATE OR REPLACE TABLE tcc_orders (id INT PRIMARY KEY, since INT NOT NULL, user_id INT NOT NULL,
		amount DECIMAL(10,2) NOT NULL, created_at DATETIME NOT NULL);
	INSERT INTO tcc_orders SELECT seq, IF(seq > 6000, 3, IF(seq > 5000, 2, 1)), 1 + seq % IF(seq > 5000, 550, 500),
		seq / 100, '2021-01-01' + INTERVAL seq HOUR FROM seq_1_to_6500;
	CREATE OR REPLACE VIEW tcc_users_v AS
		SELECT u.id, IF(c.v >= 2, u.name2, u.name1) AS name, IF(c.v >= 2, u.updated2, u.updated1) AS updated_at
		FROM tcc_users u JOIN tcc_ctl c ON u.since <= c.v;
	CREATE OR REPLACE VIEW tcc_orders_v AS
		SELECT o.id, o.user_id, o.amount, o.created_at FROM tcc_orders o JOIN tcc_ctl c ON o.since <= c.v;"
source_version() {
	t_mysql -e "UPDATE tcc_ctl SET v = $1"
}

t_psql >/dev/null <<'SQL'
SELECT pypeline.define_dimension('tcc_user', 'src', 'SELECT id, name FROM tcc_users_v ORDER BY id',
	'tcc_user_dim', '{id}');
SELECT pypeline.define_dimension('tcc_user2', 'src', 'SELECT id, name, updated_at FROM tcc_users_v ORDER BY id',
	'tcc_user2_dim', '{id}', scd_type => 2, change_date_column => 'updated_at');
SELECT pypeline.define_fact('tcc_order', 'src', 'SELECT id, user_id, amount, created_at FROM tcc_orders_v',
	'tcc_order_fact', lookups => '{"tcc_user": "user_id", "tcc_user2": "user_id"}',
	measures => '{amount}', degenerate_columns => '{id}', event_time_column => 'created_at',
	incremental_column => 'id');
SQL

TABLES="tcc_user_dim tcc_user2_dim tcc_order_fact"
# checksums of the tables that exist, and of the watermark values
state() {
	local t
	for t in $TABLES; do
		if [ "$(t_sql "SELECT to_regclass('$t') IS NOT NULL")" = t ]; then
			echo "$t $(t_checksum "$t")"
		fi
	done
	echo "watermark $(t_sql "SELECT coalesce(string_agg(etl_name || '=' || value, ',' ORDER BY etl_name), '') FROM pypeline.watermark")"
}

# pair LABEL SQL_A SQL_B ETL_TYPE ETL_NAME: session A runs SQL_A inside
# BEGIN ... pg_sleep(3) ... COMMIT; once it sleeps (holding the lock),
# session B runs SQL_B.  Checks that B waits on that lock, says so,
# and that both succeed.  Outputs are left in $T_WORK/a.out and b.out.
pair() {
	local label=$1 sql_a=$2 sql_b=$3 etl_type=$4 etl_name=$5 pid_a pid_b start
	t_bg "$T_WORK/a.out" t_conc_a "BEGIN" "$sql_a" "SELECT pg_sleep(3)" "COMMIT"
	pid_a=$T_BG_PID
	if ! t_wait_sql 60 "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 't_conc_a' AND wait_event = 'PgSleep')"; then
		t_not_ok "concurrency: $label: the first session reached its sleep"
		cat "$T_WORK/a.out" | t_diag
		t_wait_pid "$pid_a" 30
		return 1
	fi
	start=$(t_now_ms)
	t_bg "$T_WORK/b.out" t_conc_b "$sql_b"
	pid_b=$T_BG_PID
	if t_wait_sql 5 "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 't_conc_b'
			AND wait_event_type = 'Lock' AND wait_event IN ('transactionid', 'tuple'))"; then
		t_ok "concurrency: $label: the second session waits on the definition's row lock"
	else
		t_not_ok "concurrency: $label: the second session waits on the definition's row lock"
	fi
	t_wait_pid "$pid_a" 60
	t_wait_pid "$pid_b" 60
	t_is "$(cat "$T_WORK/a.out.rc") $(cat "$T_WORK/b.out.rc")" "0 0" "concurrency: $label: both sessions succeed"
	if [ "$(cat "$T_WORK/a.out.rc") $(cat "$T_WORK/b.out.rc")" != "0 0" ]; then
		cat "$T_WORK/a.out" "$T_WORK/b.out" | t_diag
	fi
	if [ $(($(t_now_ms) - start)) -ge 1500 ]; then
		t_ok "concurrency: $label: the second session ended after the first committed"
	else
		t_not_ok "concurrency: $label: the second session ended after the first committed"
	fi
	t_like "$(cat "$T_WORK/b.out")" "NOTICE: +waiting for another run of $etl_type \"$etl_name\" to finish" \
		"concurrency: $label: the second session says it waits for another run"
}

# ------------------------------------- 1. process_etl of one dimension
source_version 1
t_is "$(t_sql "SELECT rows FROM pypeline.process_etl('tcc_user', 'dimension')" 2>&1)" 500 \
	"concurrency: single run of the dimension"
single=$(t_checksum tcc_user_dim)
t_sql "DROP TABLE tcc_user_dim"

pair "process_etl from no table" \
	"SELECT * FROM pypeline.process_etl('tcc_user', 'dimension')" \
	"SELECT * FROM pypeline.process_etl('tcc_user', 'dimension')" dimension tcc_user
t_like "$(cat "$T_WORK/b.out")" "^dimension\|tcc_user\|500$" "concurrency: process_etl from no table: the second run reads 500 rows"
t_is "$(t_checksum tcc_user_dim)" "$single" "concurrency: process_etl from no table: same table as a single run"
t_is "$(t_sql "SELECT string_agg(rows_inserted || '/' || rows_unchanged, ' ' ORDER BY id) FROM pypeline.run_log WHERE etl_name = 'tcc_user'")" \
	"500/0 500/0 0/500" "concurrency: process_etl from no table: the second run finds every member loaded"

pair "process_etl rebuilding" \
	"SELECT * FROM pypeline.process_etl('tcc_user', 'dimension', delete_existing_table => true)" \
	"SELECT * FROM pypeline.process_etl('tcc_user', 'dimension', delete_existing_table => true)" dimension tcc_user
t_is "$(t_checksum tcc_user_dim)" "$single" "concurrency: process_etl rebuilding: same table as a single run"
t_sql "DROP TABLE tcc_user_dim"

# ------------------------------------- 2. refresh_data_warehouse
REFRESH_REBUILD="SELECT etl_type, etl_name, rows FROM pypeline.refresh_data_warehouse(true, true, true)"
REFRESH_INCR="SELECT etl_type, etl_name, rows FROM pypeline.refresh_data_warehouse(true, true, false)"

# single runs: a rebuild from version 1, then an incremental run to version 2
source_version 1
single_rebuild_rows=$(t_sql "$REFRESH_REBUILD" 2>&1)
t_is "$single_rebuild_rows" "dimension|tcc_user|500
dimension|tcc_user2|500
fact|tcc_order|5000" "concurrency: single refresh_data_warehouse rebuild"
single_rebuild=$(state)
source_version 2
single_incr_rows=$(t_sql "$REFRESH_INCR" 2>&1)
t_is "$single_incr_rows" "dimension|tcc_user|550
dimension|tcc_user2|550
fact|tcc_order|1000" "concurrency: single incremental refresh_data_warehouse"
single_incr=$(state)

# the same twice at once
source_version 1
pair "refresh_data_warehouse rebuilding" "$REFRESH_REBUILD" "$REFRESH_REBUILD" dimension tcc_user
t_is "$(grep -v NOTICE "$T_WORK/a.out" | grep '|')" "$single_rebuild_rows" \
	"concurrency: refresh_data_warehouse rebuilding: the first session's rows as a single run's"
t_is "$(grep -v NOTICE "$T_WORK/b.out" | grep '|')" "$single_rebuild_rows" \
	"concurrency: refresh_data_warehouse rebuilding: the second session's rows as a single run's"
t_is "$(state)" "$single_rebuild" "concurrency: refresh_data_warehouse rebuilding: same tables as a single run"

source_version 2
pair "incremental refresh_data_warehouse" "$REFRESH_INCR" "$REFRESH_INCR" dimension tcc_user
t_is "$(grep -v NOTICE "$T_WORK/a.out" | grep '|')" "$single_incr_rows" \
	"concurrency: incremental refresh_data_warehouse: the first session's rows as a single run's"
t_is "$(grep -v NOTICE "$T_WORK/b.out" | grep '|')" "dimension|tcc_user|550
dimension|tcc_user2|550
fact|tcc_order|0" \
	"concurrency: incremental refresh_data_warehouse: the second session finds nothing new for the fact"
t_is "$(state)" "$single_incr" "concurrency: incremental refresh_data_warehouse: same tables as a single run"
t_is "$(t_sql "SELECT count(*) FROM tcc_user2_dim WHERE is_current")" 551 \
	"concurrency: incremental refresh_data_warehouse: one current version per member (and the unknown member)"

# ------------------------------------- 3. process_etl of an incremental fact
source_version 3
pair "process_etl of an incremental fact" \
	"SELECT * FROM pypeline.process_etl('tcc_order', 'fact')" \
	"SELECT * FROM pypeline.process_etl('tcc_order', 'fact')" fact tcc_order
t_like "$(cat "$T_WORK/a.out")" "^fact\|tcc_order\|500$" \
	"concurrency: incremental fact: the first run reads the 500 new rows"
t_like "$(cat "$T_WORK/b.out")" "^fact\|tcc_order\|0$" \
	"concurrency: incremental fact: the second run reads nothing new"
t_is "$(t_sql "SELECT count(*) || ' ' || count(DISTINCT id) || ' ' || max(id) FROM tcc_order_fact")" "6500 6500 6500" \
	"concurrency: incremental fact: every source row loaded exactly once"
t_is "$(t_sql "SELECT value FROM pypeline.watermark WHERE etl_type = 'fact' AND etl_name = 'tcc_order'")" 6500 \
	"concurrency: incremental fact: the watermark is the last row"
concurrent=$(t_checksum tcc_order_fact)
t_sql "SELECT * FROM pypeline.process_etl('tcc_order', 'fact', delete_existing_table => true)" >/dev/null
t_is "$concurrent" "$(t_checksum tcc_order_fact)" \
	"concurrency: incremental fact: same table as a single run (a rebuild)"
