#!/usr/bin/env bash
# The old tool's log lines reach the server log, in its format; passwords
# never appear anywhere: not in the server log (even at log level debug5),
# not in pypeline.run_log, pypeline.etls or the catalog, not in what the
# client sees - after successful runs and after failures: a wrong password,
# an error in the middle of a result (whose query is then killed over a
# second connection that logs in with the password), a cancelled load.
cd "$(dirname "$0")/../.." || exit 1
. regress/t/lib.sh

BAD_PASSWORD='Pa55-w0rd-SENTINEL'
GOOD_PASSWORD='G00d-Pa55-SENTINEL'

cleanup_mysql() {
	t_mysql -e "DROP TABLE IF EXISTS tls_src, tls_sales;
		DROP USER IF EXISTS tls_user@'%', tls_user@localhost"
}
T_CLEANUP=cleanup_mysql
trap t_finish EXIT

t_ensure_mariadb
if ! t_setup_db; then
	t_not_ok "logs_and_secrets: set-up"
	exit 1
fi
LOG=$PYPELINE_TMP/postgres.log
LOG_OFFSET=$(stat -c %s "$LOG")

t_mysql -e "
	CREATE OR REPLACE USER tls_user@'%' IDENTIFIED BY '$GOOD_PASSWORD';
	CREATE OR REPLACE USER tls_user@localhost IDENTIFIED BY '$GOOD_PASSWORD';
	GRANT SELECT ON pypeline_regress.* TO tls_user@'%';
	GRANT SELECT ON pypeline_regress.* TO tls_user@localhost;
	CREATE OR REPLACE TABLE tls_src (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL);
	INSERT INTO tls_src SELECT seq, CONCAT('member', seq) FROM seq_1_to_100;
	CREATE OR REPLACE TABLE tls_sales (id INT PRIMARY KEY, member_id INT NOT NULL, amount INT NOT NULL);
	INSERT INTO tls_sales SELECT seq, 1 + seq % 100, seq FROM seq_1_to_300;"

t_psql >/dev/null <<SQL
CREATE SERVER good FOREIGN DATA WRAPPER pypeline_mysql
	OPTIONS (host '127.0.0.1', port '$MYSQL_PORT', dbname 'pypeline_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER good OPTIONS (username 'tls_user', password '$GOOD_PASSWORD');
CREATE SERVER good_socket FOREIGN DATA WRAPPER pypeline_mysql
	OPTIONS (socket '$MYSQL_SOCK', dbname 'pypeline_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER good_socket OPTIONS (username 'tls_user', password '$GOOD_PASSWORD');
CREATE SERVER badpw FOREIGN DATA WRAPPER pypeline_mysql
	OPTIONS (host '127.0.0.1', port '$MYSQL_PORT', dbname 'pypeline_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER badpw OPTIONS (username 'etl', password '$BAD_PASSWORD');
SELECT pypeline.define_dimension('tls_member', 'good', 'SELECT id, name FROM tls_src', 'tls_member_dim', '{id}');
SELECT pypeline.define_fact('tls_sale', 'good_socket', 'SELECT id, member_id, amount FROM tls_sales', 'tls_sale_fact',
	lookups => '{"tls_member": "member_id"}', measures => '{amount}', degenerate_columns => '{id}');
SELECT pypeline.define_dimension('tls_bad', 'badpw', 'SELECT id, name FROM tls_src', 'tls_bad_dim', '{id}',
	active => false);
SELECT pypeline.define_dimension('tls_broken', 'good', 'SELECT id, label FROM bad_text', 'tls_broken_dim', '{id}',
	active => false);
SELECT pypeline.define_dimension('tls_slow', 'good',
	'SELECT seq AS id, SLEEP(30) AS slept FROM seq_1_to_2', 'tls_slow_dim', '{id}', active => false);
SQL

CLIENT=$T_WORK/client.out
: >"$CLIENT"
# run LABEL EXPECT(ok|error) SQL: runs SQL in its own session; everything the
# client sees is appended to $CLIENT.
run() {
	local label=$1 expect=$2 rc
	T_PSQL_TIMEOUT=60 t_sql_capture "$T_WORK/run.out" "$3"
	rc=$?
	cat "$T_WORK/run.out" >>"$CLIENT"
	if { [ "$expect" = ok ] && [ "$rc" -eq 0 ]; } || { [ "$expect" = error ] && [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; }; then
		t_ok "logs_and_secrets: $label"
	else
		t_not_ok "logs_and_secrets: $label (psql status $rc)"
		t_diag <"$T_WORK/run.out"
	fi
}

# successes
run "a dimension load succeeds" ok "SELECT * FROM pypeline.process_etl('tls_member', 'dimension')"
run "a fact load over the socket succeeds" ok "SELECT * FROM pypeline.process_etl('tls_sale', 'fact')"
run "refresh_data_warehouse succeeds" ok "SELECT * FROM pypeline.refresh_data_warehouse(true, true, false)"
run "a rebuild at log level debug5 succeeds" ok "SET log_min_messages = debug5; SET client_min_messages = debug5;
	SELECT * FROM pypeline.refresh_data_warehouse(true, true, true)"
run "pypeline.query succeeds" ok "SELECT count(*) FROM pypeline.query('good', 'SELECT id FROM tls_src') AS t(id int)"
run "test_dimension_source succeeds" ok "SELECT * FROM pypeline.test_dimension_source()"

# failures
run "a dimension load with a wrong password fails" error "SELECT * FROM pypeline.process_etl('tls_bad', 'dimension')"
t_like "$(cat "$T_WORK/run.out")" 'could not connect to MySQL server "badpw"' \
	"logs_and_secrets: the wrong-password error says it could not connect"
run "a wrong password at log level debug5 fails" error "SET log_min_messages = debug5; SET client_min_messages = debug5;
	SELECT * FROM pypeline.process_etl('tls_bad', 'dimension')"
run "pypeline.query with a wrong password fails" error "SELECT * FROM pypeline.query('badpw', 'SELECT 1') AS t(x int)"
run "pypeline.describe with a wrong password fails" error "SELECT * FROM pypeline.describe('badpw', 'SELECT 1')"
t_sql "SELECT pypeline.set_active('tls_bad', 'dimension', true)" >/dev/null
run "refresh_data_warehouse with a wrong password fails" error \
	"SELECT * FROM pypeline.refresh_data_warehouse(true, true, false)"
run "test_dimension_source reports the wrong password" ok "SELECT * FROM pypeline.test_dimension_source()"
t_like "$(cat "$T_WORK/run.out")" 'tls_bad\|badpw\|error' "logs_and_secrets: test_dimension_source shows the failing source"
t_sql "SELECT pypeline.set_active('tls_bad', 'dimension', false)" >/dev/null
run "a load failing mid-result fails (its query is killed over a second connection)" error \
	"SELECT * FROM pypeline.process_etl('tls_broken', 'dimension')"
run "a cancelled load fails (its query is killed over a second connection)" error \
	"SET statement_timeout = '1s'; SELECT * FROM pypeline.process_etl('tls_slow', 'dimension')"
run "a failing MySQL query fails" error "SELECT * FROM pypeline.query('good', 'SELECT nope FROM tls_src') AS t(x int)"

# ------------------------------------------------------------ no secrets
# the failed runs reach the run log from a worker of their own: wait for them
t_is "$(t_wait_failures tls_bad 3) $(t_wait_failures tls_broken 1) $(t_wait_failures tls_slow 1)" "3 1 1" \
	"logs_and_secrets: the failed runs are in run_log"
t_is "$(t_sql "SELECT count(*) FROM pypeline.run_log WHERE etl_name = 'tls_bad'
	AND message LIKE 'could not connect to MySQL server \"badpw\": MySQL error 1045 (28000): Access denied for user ''etl''%'")" 3 \
	"logs_and_secrets: with the MySQL error as their message (so the check below sees them)"
new_log=$(tail -c +$((LOG_OFFSET + 1)) "$LOG")
t_unlike "$new_log" 'SENTINEL' "logs_and_secrets: the server log never shows a password"
t_unlike "$(cat "$CLIENT")" 'SENTINEL' "logs_and_secrets: the client never sees a password"
t_is "$(t_sql "SELECT count(*) FROM pypeline.run_log r WHERE r::text LIKE '%SENTINEL%'")" 0 \
	"logs_and_secrets: pypeline.run_log never shows a password"
t_is "$(t_sql "SELECT count(*) FROM pypeline.etls e WHERE e::text LIKE '%SENTINEL%'")
$(t_sql "SELECT count(*) FROM pypeline.dimension d WHERE d::text LIKE '%SENTINEL%'")
$(t_sql "SELECT count(*) FROM pypeline.fact f WHERE f::text LIKE '%SENTINEL%'")" "0
0
0" "logs_and_secrets: pypeline.etls and the catalog never show a password"
t_like "$new_log" 'could not connect to MySQL server "badpw"' \
	"logs_and_secrets: the server log has the wrong-password errors (so the check above saw them)"
t_like "$new_log" 'DEBUG' "logs_and_secrets: the server log has the debug5 messages (so the check above saw them)"

# ---------------------------------------------------------- log lines
ELAPSED='[0-9]+:[0-5][0-9]:[0-5][0-9]\.[0-9]{6}'
t_like "$new_log" 'LOG: +Executing source query for dimension tls_member_dim$' \
	"logs_and_secrets: \"Executing source query for dimension tls_member_dim\""
t_like "$new_log" 'LOG: +Executing source query for fact tls_sale_fact$' \
	"logs_and_secrets: \"Executing source query for fact tls_sale_fact\""
t_like "$new_log" 'LOG: +Loading data$' "logs_and_secrets: \"Loading data\""
t_like "$new_log" "LOG: +Loaded 100 rows into table tls_member_dim \\(elapsed time: $ELAPSED\\)\$" \
	"logs_and_secrets: \"Loaded 100 rows into table tls_member_dim (elapsed time: H:MM:SS.ffffff)\""
t_like "$new_log" "LOG: +Loaded 300 rows into table tls_sale_fact \\(elapsed time: $ELAPSED\\)\$" \
	"logs_and_secrets: \"Loaded 300 rows into table tls_sale_fact (elapsed time: H:MM:SS.ffffff)\""
# three successful runs, and the failed refresh_data_warehouse, which loaded
# it before failing on tls_bad (and then rolled it back)
t_is "$(printf '%s\n' "$new_log" | grep -Ec "LOG: +Loaded [0-9]+ rows into table tls_member_dim ")" 4 \
	"logs_and_secrets: one \"Loaded\" line per run of the dimension"
t_unlike "$new_log" 'Loaded [0-9]+ rows into table tls_(bad|broken|slow)_dim' \
	"logs_and_secrets: no \"Loaded\" line for a failed run"

# The three lines of the first run come in order from one backend.
first_pid=$(printf '%s\n' "$new_log" | grep -E 'LOG: +Executing source query for dimension tls_member_dim$' | head -1 |
	sed -E 's/^.*\[([0-9]+)\].*$/\1/')
t_is "$(printf '%s\n' "$new_log" | grep -F "[$first_pid]" | grep -E 'LOG: +(Executing source query|Loading data|Loaded [0-9]+ rows)' |
	sed -E 's/^.*LOG: +//; s/[0-9]+ rows/N rows/; s/\(elapsed time: .*\)/(elapsed time)/')" \
	"Executing source query for dimension tls_member_dim
Loading data
Loaded N rows into table tls_member_dim (elapsed time)" "logs_and_secrets: the first run logs its lines in order"

# The elapsed time is the run's duration in pypeline.run_log.
logged=$(printf '%s\n' "$new_log" | grep -E "LOG: +Loaded 100 rows into table tls_member_dim " | head -1 |
	sed -E 's/^.*elapsed time: ([0-9]+):([0-9]+):([0-9]+)\.([0-9]+)\)$/\1 \2 \3 \4/')
read -r h m s us <<<"$logged"
logged_us=$(((10#$h * 3600 + 10#$m * 60 + 10#$s) * 1000000 + 10#$us))
t_is "$logged_us" "$(t_sql "SELECT (extract(epoch FROM finished_at - started_at) * 1000000)::bigint
	FROM pypeline.run_log WHERE etl_name = 'tls_member' ORDER BY id LIMIT 1")" \
	"logs_and_secrets: the elapsed time logged is the run's duration in run_log"
