#!/usr/bin/env bash
# Interrupting a long load: pg_cancel_backend (while pypeline waits on a
# silent MySQL socket, and while it is busy reading a large SEQUENCE scan),
# statement_timeout, and pg_terminate_backend.  Each stops the load within a
# few seconds, leaves the target and the successful runs in pypeline.run_log
# as they were, and the MySQL query leaves the MariaDB process list shortly
# after (polled for up to 5 s).  A cancelled run is logged as a failure.
cd "$(dirname "$0")/../.." || exit 1
. regress/t/lib.sh

trap t_finish EXIT

t_ensure_mariadb
if ! t_setup_db; then
	t_not_ok "cancel: set-up"
	exit 1
fi

# Source queries, told apart in the MariaDB process list by their comment.
SMALL="SELECT CAST(seq AS SIGNED) AS id, CONCAT('name', seq) AS name FROM seq_1_to_1000"
# streams 2,000 rows, then waits a minute at row 2,001 (pypeline waits on the socket)
PAUSE="SELECT /* tc_pause */ CAST(seq AS SIGNED) AS id, CONCAT('name', seq) AS name FROM seq_1_to_100000 WHERE seq <> 2001 OR SLEEP(60) = 0"
# streams 50 million rows as fast as it can (pypeline is busy converting rows)
SCAN="SELECT /* tc_scan */ CAST(seq AS SIGNED) AS id, CONCAT('name', seq) AS name FROM seq_1_to_50000000"

define() {
	t_sql "SELECT pypeline.define_dimension('tc_dim', 'src', \$q\$$1\$q\$, 'tc_dim', '{id}')" >/dev/null
}

define "$SMALL"
t_is "$(t_sql "SELECT rows FROM pypeline.process_etl('tc_dim', 'dimension')" 2>&1)" 1000 \
	"cancel: first load of the dimension"
SUCCESSES="(SELECT * FROM pypeline.run_log WHERE status = 'success')"
before="$(t_checksum tc_dim) $(t_checksum "$SUCCESSES")"
FAILURES=0

# expect_failure_row LABEL MESSAGE: one more failure row, with that message
expect_failure_row() {
	FAILURES=$((FAILURES + 1))
	t_is "$(t_wait_failures tc_dim $FAILURES)" $FAILURES "cancel: $1: the failed run is in run_log"
	t_is "$(t_sql "SELECT message FROM pypeline.run_log WHERE status = 'failure' ORDER BY id DESC LIMIT 1")" "$2" \
		"cancel: $1: with the error as its message"
}

# interrupt_load LABEL TAG SIGNAL_FUNCTION EXPECTED_ERROR [STATE]: starts the
# load in the background, waits for its query on MariaDB (in STATE, if
# given), signals the backend and checks the outcome.
interrupt_load() {
	local label=$1 tag=$2 func=$3 expected=$4 state=${5:-} app=t_cancel_$2 pid start elapsed out
	t_bg "$T_WORK/$tag.out" "$app" "SELECT * FROM pypeline.process_etl('tc_dim', 'dimension')"
	if ! t_wait_mysql_query "%$tag%" 30 "$state"; then
		t_not_ok "cancel: $label: the load's query runs on MariaDB"
		return 1
	fi
	sleep 0.5
	pid=$(t_backend_pid "$app")
	start=$(t_now_ms)
	t_sql "SELECT $func($pid)" >/dev/null
	if t_wait_pid "$T_BG_PID" 30; then
		elapsed=$(($(t_now_ms) - start))
		if [ "$elapsed" -lt 5000 ]; then
			t_ok "cancel: $label stops the load within 5 s (${elapsed} ms)"
		else
			t_not_ok "cancel: $label stops the load within 5 s (${elapsed} ms)"
		fi
	else
		t_not_ok "cancel: $label stops the load (still running after 30 s)"
	fi
	out=$(cat "$T_WORK/$tag.out")
	t_like "$out" "$expected" "cancel: $label: the call reports \"$expected\""
	printf '%s\n' "$out" | t_diag
	t_is "$(t_checksum tc_dim) $(t_checksum "$SUCCESSES")" "$before" \
		"cancel: $label: target and successful runs unchanged"
	if t_wait_mysql_query_gone "%$tag%" 5; then
		t_ok "cancel: $label: the MySQL query is gone from the MariaDB process list"
	else
		t_not_ok "cancel: $label: the MySQL query is gone from the MariaDB process list"
		t_mysql_queries "%$tag%" | t_diag
	fi
}

# ------------------------------------------------------ pg_cancel_backend
define "$PAUSE"
interrupt_load "pg_cancel_backend while MySQL is silent" tc_pause pg_cancel_backend \
	"canceling statement due to user request" "User sleep"
expect_failure_row "pg_cancel_backend while MySQL is silent" "canceling statement due to user request"

define "$SCAN"
interrupt_load "pg_cancel_backend during a large scan" tc_scan pg_cancel_backend \
	"canceling statement due to user request"
expect_failure_row "pg_cancel_backend during a large scan" "canceling statement due to user request"

# the statement is killed over a second connection: over the unix socket too
t_psql >/dev/null <<SQL
CREATE SERVER src_socket FOREIGN DATA WRAPPER pypeline_mysql
	OPTIONS (socket '$MYSQL_SOCK', dbname 'pypeline_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER src_socket OPTIONS (username 'etl', password 'etl_secret');
SQL
t_sql "SELECT pypeline.define_dimension('tc_dim', 'src_socket', \$q\$${PAUSE/tc_pause/tc_socket}\$q\$, 'tc_dim', '{id}')" >/dev/null
interrupt_load "pg_cancel_backend on a unix socket server" tc_socket pg_cancel_backend \
	"canceling statement due to user request" "User sleep"
expect_failure_row "pg_cancel_backend on a unix socket server" "canceling statement due to user request"

# ------------------------------------------------------ statement_timeout
for source in PAUSE SCAN; do
	define "${!source}"
	tag=tc_$(echo "$source" | tr A-Z a-z)
	start=$(t_now_ms)
	T_PSQL_TIMEOUT=30 t_sql_capture "$T_WORK/timeout_$tag.out" \
		"SET statement_timeout = '2s'; SELECT * FROM pypeline.process_etl('tc_dim', 'dimension')"
	rc=$?
	elapsed=$(($(t_now_ms) - start))
	out=$(cat "$T_WORK/timeout_$tag.out")
	label="statement_timeout 2s ($tag)"
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$elapsed" -lt 7000 ]; then
		t_ok "cancel: $label stops the load within 7 s (${elapsed} ms)"
	else
		t_not_ok "cancel: $label stops the load within 7 s (${elapsed} ms, psql status $rc)"
	fi
	t_like "$out" "canceling statement due to statement timeout" "cancel: $label: the call reports the timeout"
	printf '%s\n' "$out" | t_diag
	t_is "$(t_checksum tc_dim) $(t_checksum "$SUCCESSES")" "$before" \
		"cancel: $label: target and successful runs unchanged"
	if t_wait_mysql_query_gone "%$tag%" 5; then
		t_ok "cancel: $label: the MySQL query is gone from the MariaDB process list"
	else
		t_not_ok "cancel: $label: the MySQL query is gone from the MariaDB process list"
		t_mysql_queries "%$tag%" | t_diag
	fi
	expect_failure_row "$label" "canceling statement due to statement timeout"
done

# --------------------------------------------------- pg_terminate_backend
define "$PAUSE"
interrupt_load "pg_terminate_backend while MySQL is silent" tc_pause pg_terminate_backend \
	"terminating connection due to administrator command" "User sleep"
define "$SCAN"
interrupt_load "pg_terminate_backend during a large scan" tc_scan pg_terminate_backend \
	"terminating connection due to administrator command"
# (a FATAL error ends the backend without the ETL's error handler: a
# terminated run may leave no failure row; only reported here)
t_diag "failure rows after pg_terminate_backend: $(t_wait_failures tc_dim $((FAILURES + 2)) 2) (before: $FAILURES)"

# consistent afterwards: no lock or temporary table left behind, the next
# load runs and finds every member unchanged
t_is "$(t_sql "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
	WHERE d.datname = current_database() AND l.pid <> pg_backend_pid()
	  AND (l.locktype = 'advisory' OR l.relation = 'pypeline.dimension'::regclass)")" 0 \
	"cancel: no lock is left behind"
t_is "$(t_sql "SELECT count(*) FROM pg_class WHERE relname LIKE 'pypeline_stage%'")" 0 \
	"cancel: no staging table is left behind"
define "$SMALL"
t_is "$(t_sql "SELECT rows FROM pypeline.process_etl('tc_dim', 'dimension')" 2>&1)" 1000 \
	"cancel: the next load runs normally"
t_is "$(t_sql "SELECT rows_inserted || ' ' || rows_updated || ' ' || rows_unchanged
	FROM pypeline.run_log WHERE status = 'success' ORDER BY id DESC LIMIT 1")" "0 0 1000" \
	"cancel: and finds every member unchanged"
t_is "$(t_checksum tc_dim)" "${before%% *}" "cancel: the target is as before the interrupted loads"
