#!/usr/bin/env bash
# A TCP listener on 127.0.0.1 that accepts connections but never speaks (a
# hung server, a wrong port on a busy host): with connect_timeout '2' every
# entry point fails within ~2-6 s with a clear "could not connect" error,
# and never hangs.  Also: a port where nothing listens fails at once.
cd "$(dirname "$0")/../.." || exit 1
. regress/t/lib.sh

LISTENER_PID=
stop_listener() {
	[ -n "$LISTENER_PID" ] && kill "$LISTENER_PID" 2>/dev/null
	[ -n "$LISTENER_PID" ] && t_wait_pid "$LISTENER_PID" 5
	LISTENER_PID=
}
finish() {
	stop_listener
	t_finish
}
trap finish EXIT

t_ensure_mariadb
if ! t_setup_db; then
	t_not_ok "connect_timeout: set-up"
	exit 1
fi

# The silent listener: accepts, keeps every connection open, never writes;
# logs one line per accepted connection; gives up by itself after 5 minutes.
perl -MIO::Socket::INET -e '
	$SIG{ALRM} = sub { exit 0 };
	alarm 300;
	my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 16, ReuseAddr => 1)
		or die "listen: $!";
	open(my $f, ">", "$ARGV[0].tmp") or die; print $f $l->sockport, "\n"; close $f;
	rename("$ARGV[0].tmp", $ARGV[0]);
	$| = 1;
	my @held;
	while (my $c = $l->accept) { push @held, $c; print "accepted\n"; }
' "$T_WORK/port" >"$T_WORK/listener.log" 2>&1 </dev/null &
LISTENER_PID=$!
for i in $(seq 1 50); do
	[ -s "$T_WORK/port" ] && break
	sleep 0.1
done
SILENT_PORT=$(cat "$T_WORK/port" 2>/dev/null)
if [ -z "$SILENT_PORT" ]; then
	t_not_ok "connect_timeout: the silent listener started"
	cat "$T_WORK/listener.log" | t_diag
	exit 1
fi
DEAD_PORT=$(free_port 20000)

t_psql >/dev/null <<SQL
CREATE SERVER silent FOREIGN DATA WRAPPER pypeline_mysql
	OPTIONS (host '127.0.0.1', port '$SILENT_PORT', dbname 'pypeline_regress', connect_timeout '2');
CREATE USER MAPPING FOR CURRENT_USER SERVER silent OPTIONS (username 'etl', password 'etl_secret');
CREATE SERVER refused FOREIGN DATA WRAPPER pypeline_mysql
	OPTIONS (host '127.0.0.1', port '$DEAD_PORT', dbname 'pypeline_regress', connect_timeout '2');
CREATE USER MAPPING FOR CURRENT_USER SERVER refused OPTIONS (username 'etl', password 'etl_secret');
SELECT pypeline.define_dimension('tct_dim', 'silent', 'SELECT 1 AS id', 'tct_dim', '{id}');
SELECT pypeline.define_fact('tct_fact', 'silent', 'SELECT 1 AS id, 2 AS amount', 'tct_fact',
	measures => '{amount}');
SQL

# bounded_call LABEL SERVER MIN_MS MAX_MS SQL: runs SQL, expects an error
# saying it could not connect to SERVER, after MIN_MS to MAX_MS.
bounded_call() {
	local label=$1 server=$2 min=$3 max=$4 sql=$5 start rc elapsed out
	start=$(t_now_ms)
	T_PSQL_TIMEOUT=30 t_sql_capture "$T_WORK/call.out" "$sql"
	rc=$?
	elapsed=$(($(t_now_ms) - start))
	out=$(cat "$T_WORK/call.out")
	t_unlike "$rc" '^0$' "connect_timeout: $label fails"
	if [ "$rc" -ne 124 ] && [ "$elapsed" -ge "$min" ] && [ "$elapsed" -le "$max" ]; then
		t_ok "connect_timeout: $label fails after ${min}-${max} ms (${elapsed} ms)"
	else
		t_not_ok "connect_timeout: $label fails after ${min}-${max} ms (${elapsed} ms, psql status $rc)"
	fi
	t_like "$out" "ERROR: +could not connect to MySQL server \"$server\"" \
		"connect_timeout: $label: the error says it could not connect to \"$server\""
	t_unlike "$out" "etl_secret" "connect_timeout: $label: the error does not show the password"
	printf '%s\n' "$out" | t_diag
}

bounded_call "pypeline.query on a silent server" silent 1500 6000 \
	"SELECT * FROM pypeline.query('silent', 'SELECT 1') AS t(x int)"
# The hint must not send the user to read_timeout (3600 s by default): it
# is connect_timeout that expired, after 2 s.
t_unlike "$(grep HINT "$T_WORK/call.out")" "read_timeout" \
	"connect_timeout: the hint of a connect timeout does not blame read_timeout"

bounded_call "pypeline.describe on a silent server" silent 1500 6000 \
	"SELECT * FROM pypeline.describe('silent', 'SELECT 1')"
bounded_call "a dimension load from a silent server" silent 1500 6000 \
	"SELECT * FROM pypeline.process_etl('tct_dim', 'dimension')"
t_like "$(cat "$T_WORK/call.out")" 'dimension ETL "tct_dim"' "connect_timeout: the dimension error names the ETL"
bounded_call "a fact load from a silent server" silent 1500 6000 \
	"SELECT * FROM pypeline.process_etl('tct_fact', 'fact')"
t_like "$(cat "$T_WORK/call.out")" 'fact ETL "tct_fact"' "connect_timeout: the fact error names the ETL"
bounded_call "refresh_data_warehouse with a silent source" silent 1500 6000 \
	"SELECT * FROM pypeline.refresh_data_warehouse()"

# test_dimension_source reports the error as a row instead of failing
start=$(t_now_ms)
got=$(T_PSQL_TIMEOUT=30 t_sql "SELECT etl_name || ' ' || status || ' ' || (message LIKE 'could not connect to MySQL server \"silent\"%')
	FROM pypeline.test_dimension_source()" 2>&1)
elapsed=$(($(t_now_ms) - start))
t_is "$got" "tct_dim error true" "connect_timeout: test_dimension_source reports the silent source as an error"
if [ "$elapsed" -le 6000 ]; then
	t_ok "connect_timeout: test_dimension_source returns within 6 s (${elapsed} ms)"
else
	t_not_ok "connect_timeout: test_dimension_source returns within 6 s (${elapsed} ms)"
fi

accepted=$(grep -c accepted "$T_WORK/listener.log")
if [ "$accepted" -ge 6 ]; then
	t_ok "connect_timeout: every call reached the silent listener ($accepted connections)"
else
	t_not_ok "connect_timeout: every call reached the silent listener ($accepted connections)"
fi

bounded_call "a port where nothing listens" refused 0 2000 \
	"SELECT * FROM pypeline.query('refused', 'SELECT 1') AS t(x int)"

# a cancel while waiting for the handshake (connect_timeout 10 s, the
# default) stops the call at once
t_psql >/dev/null <<SQL
CREATE SERVER silent_default FOREIGN DATA WRAPPER pypeline_mysql
	OPTIONS (host '127.0.0.1', port '$SILENT_PORT', dbname 'pypeline_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER silent_default OPTIONS (username 'etl', password 'etl_secret');
SQL
t_bg "$T_WORK/cancel.out" t_connect_cancel "SELECT * FROM pypeline.query('silent_default', 'SELECT 1') AS t(x int)"
if t_wait_sql 5 "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 't_connect_cancel' AND state = 'active')"; then
	sleep 0.5
	start=$(t_now_ms)
	t_sql "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 't_connect_cancel'" >/dev/null
	if t_wait_pid "$T_BG_PID" 15; then
		elapsed=$(($(t_now_ms) - start))
		if [ "$elapsed" -lt 2000 ]; then
			t_ok "connect_timeout: a cancel during the handshake stops the call at once (${elapsed} ms)"
		else
			t_not_ok "connect_timeout: a cancel during the handshake stops the call at once (${elapsed} ms)"
		fi
		t_like "$(cat "$T_WORK/cancel.out")" "canceling statement due to user request" \
			"connect_timeout: the cancelled call reports the cancel"
	else
		t_not_ok "connect_timeout: a cancel during the handshake stops the call (still running after 15 s)"
	fi
else
	t_not_ok "connect_timeout: the call to cancel started"
fi

# nothing was created by the failed loads, which are in the run log as
# failures; the session still works
t_is "$(t_sql "SELECT count(*) FROM pg_tables WHERE tablename IN ('tct_dim', 'tct_fact')")" 0 \
	"connect_timeout: no target table from the failed loads"
t_wait_failures tct_dim 2 >/dev/null
t_wait_failures tct_fact 1 >/dev/null
t_is "$(t_sql "SELECT string_agg(etl_name || ' ' || status || ' ' || (message LIKE 'could not connect to MySQL server \"silent\"%'), ', ' ORDER BY id)
	FROM pypeline.run_log")" "tct_dim failure true, tct_fact failure true, tct_dim failure true" \
	"connect_timeout: the failed runs are in run_log with the connect error"
t_is "$(t_sql "SELECT x FROM pypeline.query('src', 'SELECT 7') AS t(x int)" 2>&1)" 7 \
	"connect_timeout: a working server still answers afterwards"
stop_listener
