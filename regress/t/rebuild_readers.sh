#!/usr/bin/env bash
# A rebuild (delete_existing_table => true) of a table that readers use:
# while the source is streamed, readers of the table and of a view on it get
# the old rows at once and writers wait; a rebuild killed mid-stream leaves
# the table, the view and nothing else behind; one that finishes gives the
# view the new rows.
cd "$(dirname "$0")/../.." || exit 1
. regress/t/lib.sh

trap t_finish EXIT

t_ensure_mariadb
if ! t_setup_db; then
	t_not_ok "rebuild readers: set-up"
	exit 1
fi

SMALL="SELECT CAST(seq AS SIGNED) AS id, CONCAT('name', seq) AS name FROM seq_1_to_1000"
# paused_source TAG SECONDS: 5,000 rows that stop for SECONDS at row 2,001
paused_source() {
	echo "SELECT /* $1 */ CAST(seq AS SIGNED) AS id, CONCAT('name', seq) AS name FROM seq_1_to_5000 WHERE seq <> 2001 OR SLEEP($2) = 0"
}
define() {
	t_sql "SELECT pypeline.define_dimension('tr_dim', 'src', \$q\$$1\$q\$, 'tr_dim', '{id}')" >/dev/null
}
READ="SET lock_timeout = '2s'; SELECT count(*) FROM tr_names"

define "$SMALL"
t_is "$(t_sql "SELECT rows FROM pypeline.process_etl('tr_dim', 'dimension')" 2>&1)" 1000 \
	"rebuild readers: first load"
t_sql "CREATE VIEW tr_names AS SELECT id, name FROM tr_dim WHERE id > 0" >/dev/null
before=$(t_checksum tr_dim)

# A rebuild whose source stops for a minute, ended by pg_terminate_backend.
define "$(paused_source tr_killed 60)"
t_bg "$T_WORK/killed.out" t_rebuild_killed \
	"SELECT rows FROM pypeline.process_etl('tr_dim', 'dimension', delete_existing_table => true)"
if t_wait_mysql_query "%tr_killed%" 30 "User sleep"; then
	t_ok "rebuild readers: the rebuild streams its source"
else
	t_not_ok "rebuild readers: the rebuild streams its source"
fi
t_is "$(t_sql "$READ" 2>&1)" 1000 "rebuild readers: a reader of the view gets the old rows meanwhile"
t_like "$(t_sql "SET lock_timeout = '1s'; UPDATE tr_dim SET name = 'x' WHERE id = 1" 2>&1)" \
	"canceling statement due to lock timeout" "rebuild readers: a writer waits for the rebuild"
t_sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 't_rebuild_killed'" >/dev/null
t_wait_pid "$T_BG_PID" 30 || t_not_ok "rebuild readers: the killed rebuild ends"
t_is "$(t_checksum tr_dim)" "$before" "rebuild readers: the killed rebuild leaves the table as it was"
t_is "$(t_sql "$READ" 2>&1)" 1000 "rebuild readers: and the view"
t_is "$(t_sql "SELECT count(*) FROM pg_class WHERE relname LIKE 'pypeline_rebuild%'")" 0 \
	"rebuild readers: and no table of its own"

# A rebuild whose source stops for 3 s: readers meanwhile, new rows after.
define "$(paused_source tr_paused 3)"
t_bg "$T_WORK/paused.out" t_rebuild_paused \
	"SELECT rows FROM pypeline.process_etl('tr_dim', 'dimension', delete_existing_table => true)"
t_wait_mysql_query "%tr_paused%" 30 "User sleep" || t_not_ok "rebuild readers: the second rebuild streams"
start=$(t_now_ms)
t_is "$(t_sql "$READ" 2>&1)" 1000 "rebuild readers: a reader during the second rebuild gets the old rows"
t_diag <<<"read during the rebuild took $(($(t_now_ms) - start)) ms"
if t_wait_pid "$T_BG_PID" 60; then
	t_is "$(cat "$T_WORK/paused.out")" 5000 "rebuild readers: the second rebuild loads the new source"
else
	t_not_ok "rebuild readers: the second rebuild ends"
fi
t_is "$(t_sql "$READ" 2>&1)" 5000 "rebuild readers: the view shows the rebuilt rows"
