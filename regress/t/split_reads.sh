#!/usr/bin/env bash
# Split reads against a source that changes while it is read, and a reader
# that is stopped:
# - a writer commits a row at a time (ids in commit order) while a split
#   fact is loaded again and again: every load must hold one state of the
#   source, ids 1..n with no gap and no repeat, whether its readers agreed
#   on a snapshot or the run fell back to a serial read;
# - a reader terminated mid-read fails the run with the reader's error and
#   range, leaves the fact table as it was and no reader or range query.
cd "$(dirname "$0")/../.." || exit 1
. regress/t/lib.sh

trap t_finish EXIT
T_CLEANUP=drop_source
drop_source() {
	t_mysql -e "DROP PROCEDURE IF EXISTS tsp_write; DROP TABLE IF EXISTS tsp_event"
}

t_ensure_mariadb
if ! t_setup_db; then
	t_not_ok "split reads: set-up"
	exit 1
fi

t_mysql -e "DROP TABLE IF EXISTS tsp_event;
	CREATE TABLE tsp_event (id INT AUTO_INCREMENT PRIMARY KEY, grp INT NOT NULL, KEY (grp));
	INSERT INTO tsp_event (grp) SELECT (seq * 37) % 1000 FROM seq_1_to_20000;
	DROP PROCEDURE IF EXISTS tsp_write;
	DELIMITER //
	CREATE PROCEDURE tsp_write(seconds INT)
	BEGIN
		DECLARE stop DATETIME DEFAULT NOW() + INTERVAL seconds SECOND;
		WHILE NOW() < stop DO
			INSERT INTO tsp_event (grp) VALUES (FLOOR(RAND() * 1000));
			DO SLEEP(0.002);
		END WHILE;
	END //"
if [ "$(t_mysql -e "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_NAME = 'tsp_write'")" != 1 ]; then
	t_not_ok "split reads: set-up of the writer"
	exit 1
fi
t_sql "SELECT pypeline.define_fact('tsp', 'src', 'SELECT id, grp FROM tsp_event', 'tsp_fact',
	degenerate_columns => '{id,grp}', split_column => 'grp')" >/dev/null

LOAD="SET pypeline.max_parallel_etls = 3; SELECT rows FROM pypeline.process_etl('tsp', 'fact')"
# The writer commits one row at a time, ids in commit order: a state of the
# source is every row up to some id.  (Auto-increment leaves gaps, so the
# rows up to the fact's highest id are counted on MariaDB.)
one_state() {
	local got
	got=$(t_sql "SELECT count(*) || ' ' || count(DISTINCT id) || ' ' || coalesce(max(id), 0) FROM tsp_fact")
	set -- $got
	[ "$1" = "$2" ] && [ "$1" = "$(t_mysql -e "SELECT COUNT(*) FROM tsp_event WHERE id <= $3")" ]
}

# loads while a writer commits a row every few milliseconds
t_mysql -e "CALL tsp_write(20)" &
writer=$!
T_BG_PIDS+=("$writer:/dev/null")
consistent=0
split=0
loads=0
for i in 1 2 3 4 5 6 7 8; do
	if ! t_sql "$LOAD" >/dev/null 2>"$T_WORK/load.err"; then
		t_not_ok "split reads: load $i during writes"
		t_diag <"$T_WORK/load.err"
		continue
	fi
	loads=$((loads + 1))
	one_state && consistent=$((consistent + 1))
	case "$(t_sql "SELECT message FROM pypeline.run_log WHERE etl_name = 'tsp' ORDER BY id DESC LIMIT 1")" in
	"read in 3 ranges"*) split=$((split + 1)) ;;
	esac
done
t_is "$consistent" "$loads" "split reads: every load during writes holds one state of the source"
t_diag <<<"$split of $loads loads during writes were split, the others read serially"
t_diag <<<"rows written meanwhile: $(($(t_mysql -e "SELECT COUNT(*) FROM tsp_event") - 20000))"
wait "$writer"

# with the writer stopped the readers agree at once: the fact holds every row
t_sql "$LOAD" >/dev/null
t_is "$(t_sql "SELECT message FROM pypeline.run_log WHERE etl_name = 'tsp' ORDER BY id DESC LIMIT 1")" \
	"read in 3 ranges of grp by split readers" "split reads: a quiet source is read in ranges"
t_is "$(t_sql "SELECT count(*) FROM tsp_fact")" "$(t_mysql -e "SELECT COUNT(*) FROM tsp_event")" \
	"split reads: and every row is loaded once"
t_check "split reads: one state of the source" one_state

# a reader terminated mid-read (the bounds query does not evaluate the pause)
t_sql "SELECT pypeline.define_fact('tsp_slow', 'src', 'SELECT /* tsp_slow */ id, grp, SLEEP(0.001) AS pause FROM tsp_event',
	'tsp_slow_fact', degenerate_columns => '{id,grp,pause}', split_column => 'grp')" >/dev/null
t_bg "$T_WORK/slow.out" tsp_slow "SET pypeline.max_parallel_etls = 3; SELECT rows FROM pypeline.process_etl('tsp_slow', 'fact')"
if t_wait_sql 30 "SELECT count(*) = 3 FROM pg_stat_activity WHERE backend_type = 'pypeline split reader'" &&
	t_wait_mysql_query "%tsp_slow%pypeline_range%" 30 "User sleep"; then
	t_sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE backend_type = 'pypeline split reader' AND query LIKE '%2 of 3%'" >/dev/null
	t_wait_pid "$T_BG_PID" 60 || t_not_ok "split reads: the run with a terminated reader ends"
	t_like "$(cat "$T_WORK/slow.out")" "terminating background worker \"pypeline split reader\" due to administrator command" \
		"split reads: a terminated reader fails the run with its error"
	t_like "$(cat "$T_WORK/slow.out")" "split reader 2 of 3 of fact \"tsp_slow\", rows where" \
		"split reads: which names the reader and its range"
else
	t_not_ok "split reads: the slow split load starts its readers"
fi
t_is "$(t_sql "SELECT to_regclass('tsp_slow_fact') IS NULL")" t "split reads: the failed run loads nothing"
t_check "split reads: no reader is left" \
	t_wait_sql 10 "SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pypeline split reader'"
t_check "split reads: no range query is left on MariaDB" t_wait_mysql_query_gone "%tsp_slow%pypeline_range%" 20

t_diag <<<"$T_PASSED passed, $T_FAILED failed"
[ "$T_FAILED" -eq 0 ]
