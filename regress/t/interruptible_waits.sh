#!/usr/bin/env bash
# While MySQL computes, a backend waits for it in WaitLatchOrSocket (its
# wait event is "Extension"), never in a blocking read(): only there are a
# cancel, pg_terminate_backend, statement_timeout, revoke and postmaster
# death noticed whenever they come.  (A blocking read is left only by a
# signal that arrives while the backend is already in it: one that comes a
# moment earlier is lost until MySQL sends something, or read_timeout.)
# Checked for pypeline.query and a dimension load, over TLS, plain TCP and
# the unix socket.
cd "$(dirname "$0")/../.." || exit 1
. regress/t/lib.sh

trap t_finish EXIT

t_ensure_mariadb
if ! t_setup_db; then
	t_not_ok "interruptible_waits: set-up"
	exit 1
fi

t_psql >/dev/null <<SQL
CREATE SERVER tls FOREIGN DATA WRAPPER pypeline_mysql
	OPTIONS (host '127.0.0.1', port '$MYSQL_PORT', dbname 'pypeline_regress', ssl_mode 'REQUIRED');
CREATE USER MAPPING FOR CURRENT_USER SERVER tls OPTIONS (username 'etl', password 'etl_secret');
CREATE SERVER plain FOREIGN DATA WRAPPER pypeline_mysql
	OPTIONS (host '127.0.0.1', port '$MYSQL_PORT', dbname 'pypeline_regress', ssl_mode 'DISABLED');
CREATE USER MAPPING FOR CURRENT_USER SERVER plain OPTIONS (username 'etl', password 'etl_secret');
CREATE SERVER sock FOREIGN DATA WRAPPER pypeline_mysql
	OPTIONS (socket '$MYSQL_SOCK', dbname 'pypeline_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER sock OPTIONS (username 'etl', password 'etl_secret');
SELECT pypeline.define_dimension('tw_' || s, s, 'SELECT 1 AS id, SLEEP(20) AS pause /* tw_' || s || ' */',
	'tw_' || s || '_dim', '{id}', active => false)
FROM unnest(ARRAY['tls', 'plain', 'sock']) s;
SQL
t_is "$(t_sql "SELECT (SELECT cipher <> '' FROM pypeline.query('tls', 'SHOW SESSION STATUS LIKE ''Ssl_cipher''') AS t(n text, cipher text))
	|| ' ' || (SELECT cipher = '' FROM pypeline.query('plain', 'SHOW SESSION STATUS LIKE ''Ssl_cipher''') AS t(n text, cipher text))")" \
	"true true" "interruptible_waits: server tls is encrypted, server plain is not"
t_diag "server sock (unix socket, ssl_mode PREFERRED) cipher:" \
	"$(t_sql "SELECT cipher FROM pypeline.query('sock', 'SHOW SESSION STATUS LIKE ''Ssl_cipher''') AS t(n text, cipher text)")"

# waits LABEL TAG SQL: runs SQL in the background; once its MySQL statement
# (marked with TAG) sleeps, looks at the backend's wait event, cancels it
# and checks that the call ends at once.
waits() {
	local label=$1 tag=$2 sql=$3 app=t_waits_$2 pid event start elapsed
	t_bg "$T_WORK/$tag.out" "$app" "$sql"
	if ! t_wait_mysql_query "%$tag%" 30 "User sleep"; then
		t_not_ok "interruptible_waits: $label: the statement runs on MariaDB"
		t_wait_pid "$T_BG_PID" 30
		return 1
	fi
	sleep 0.5
	pid=$(t_backend_pid "$app")
	event=$(t_sql "SELECT coalesce(wait_event_type, 'none') || '/' || coalesce(wait_event, 'none')
		FROM pg_stat_activity WHERE pid = $pid")
	t_is "$event" "Extension/Extension" "interruptible_waits: $label: the backend waits in WaitLatchOrSocket"
	start=$(t_now_ms)
	t_sql "SELECT pg_cancel_backend($pid)" >/dev/null
	if t_wait_pid "$T_BG_PID" 10; then
		elapsed=$(($(t_now_ms) - start))
		if [ "$elapsed" -lt 2000 ]; then
			t_ok "interruptible_waits: $label: a cancel stops it at once (${elapsed} ms)"
		else
			t_not_ok "interruptible_waits: $label: a cancel stops it at once (${elapsed} ms)"
		fi
		t_like "$(cat "$T_WORK/$tag.out")" "canceling statement due to user request" \
			"interruptible_waits: $label: the call reports the cancel"
	else
		t_not_ok "interruptible_waits: $label: a cancel stops it (still running after 10 s)"
	fi
	t_wait_mysql_query_gone "%$tag%" 5 || t_diag "$label: the statement still runs on MariaDB"
}

for s in tls plain sock; do
	waits "pypeline.query on server $s" "tq_$s" \
		"SELECT * FROM pypeline.query('$s', 'SELECT SLEEP(20) /* tq_$s */') AS t(x int)"
	waits "a dimension load from server $s" "tw_$s" \
		"SELECT * FROM pypeline.process_etl('tw_$s', 'dimension')"
done
