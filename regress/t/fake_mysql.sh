#!/usr/bin/env bash
# A MySQL server that lies (regress/fake_mysql.py) never crashes a backend:
# malformed handshakes, absurd column definitions (BIT(4294967295), DECIMAL
# of length 2^32-1), truncated packets, rows longer than their packet, a
# column without a name each end the call with an error naming the server,
# and nothing in the PostgreSQL log shows a process killed by a signal.  A
# server that asks for the password in clear text over a plain connection
# does not get it.
cd "$(dirname "$0")/../.." || exit 1
. regress/t/lib.sh

FAKE_PID=
stop_fake() {
	[ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null
}
trap 'stop_fake; t_finish' EXIT

t_ensure_mariadb
if ! t_setup_db; then
	t_not_ok "fake_mysql: set-up"
	exit 1
fi
offset=$(t_log_offset)

fake_port=$(free_port 14306)
python3 regress/fake_mysql.py "$fake_port" "$T_WORK/fake.log" >"$T_WORK/fake.out" 2>&1 &
FAKE_PID=$!
for i in $(seq 1 50); do
	grep -q ready "$T_WORK/fake.out" 2>/dev/null && break
	sleep 0.1
done
t_like "$(cat "$T_WORK/fake.out")" ready "fake_mysql: the fake server listens" || exit 1

# scenario | column definition list | what is selected | what the error says
scenarios=(
	"ok|id int|sum(id)|"
	"clear|x text|count(*)|"
	"badgreeting|x text|count(*)|could not connect to MySQL server"
	"shortgreeting|x text|count(*)|could not connect to MySQL server"
	"bigbit|b bit varying|count(*)|declares column \"b\" as BIT\\(4294967295\\)"
	"bigdecimal|d numeric|sum(d)|"
	"manycols|x text|count(*)|MySQL server \"fake_manycols\""
	"truncated|x text|count(*)|MySQL server \"fake_truncated\""
	"shortrow|s text|count(*)|MySQL server \"fake_shortrow\""
	"hugerow|s text|max(coalesce(length(s), -1))|"
	"noname|x int|sum(x)|"
	"badtype|x text, y int|count(*)|invalid input syntax for type integer"
)
for entry in "${scenarios[@]}"; do
	IFS='|' read -r name columns selected pattern <<<"$entry"
	t_psql >/dev/null <<-SQL
		CREATE SERVER fake_$name FOREIGN DATA WRAPPER pypeline_mysql
			OPTIONS (host '127.0.0.1', port '$fake_port', ssl_mode 'DISABLED',
			         connect_timeout '3', read_timeout '3');
		CREATE USER MAPPING FOR CURRENT_USER SERVER fake_$name
			OPTIONS (username '$name', password 'pw-SENTINEL');
		SELECT pypeline.define_dimension('fake_$name', 'fake_$name', 'SELECT * FROM fake',
			'fake_${name}_dim', natural_key => '{id}');
	SQL
	T_PSQL_TIMEOUT=30 t_sql_capture "$T_WORK/$name.query" \
		"SELECT $selected FROM pypeline.query('fake_$name', 'SELECT * FROM fake') AS t($columns)"
	query_rc=$?
	T_PSQL_TIMEOUT=30 t_sql_capture "$T_WORK/$name.etl" "SELECT * FROM pypeline.process_etl('fake_$name', 'dimension')"
	etl_rc=$?
	t_unlike "$(cat "$T_WORK/$name.query" "$T_WORK/$name.etl")" 'server closed the connection unexpectedly' \
		"fake_mysql: $name: the backend survives"
	case $name in
	ok)
		t_is "$query_rc $(cat "$T_WORK/$name.query")" "0 3" "fake_mysql: an honest fake server's rows arrive"
		t_is "$etl_rc" 0 "fake_mysql: and load"
		;;
	bigdecimal)
		t_is "$(cat "$T_WORK/$name.query")" 1.5 "fake_mysql: an absurd DECIMAL length reads as unconstrained numeric"
		;;
	noname)
		t_like "$(cat "$T_WORK/$name.etl")" 'has no name' "fake_mysql: a column without a name is refused by an ETL"
		;;
	hugerow)
		# Connector/C cuts a length beyond its packet to what is there; never a huge value
		t_like "$query_rc $(cat "$T_WORK/$name.query")" '^0 (-1|0)$|^[1-9]' "fake_mysql: a value announced longer than its packet is not read past it"
		;;
	*)
		t_unlike "$query_rc" '^0$' "fake_mysql: $name: pypeline.query fails"
		t_like "$(cat "$T_WORK/$name.query")" "ERROR: .*$pattern" "fake_mysql: $name: with an error that says why"
		[ "$name" = clear ] && t_like "$(cat "$T_WORK/$name.query")" "restricted_auth" \
			"fake_mysql: clear: refused by the client's list of authentication plugins"
		t_unlike "$etl_rc" '^0$' "fake_mysql: $name: the ETL fails"
		;;
	esac
done

t_is "$(t_sql "SELECT 1")" 1 "fake_mysql: the server still answers"
crashes=$(t_crashes_since "$offset")
if [ -z "$crashes" ]; then
	t_ok "fake_mysql: no process died of a signal"
else
	t_not_ok "fake_mysql: no process died of a signal"
	printf '%s\n' "$crashes" | t_diag
fi
t_like "$(cat "$T_WORK/fake.log")" 'clear: the client sent no password' \
	"fake_mysql: a request for the password in clear text over plain TCP gets nothing"
t_unlike "$(cat "$T_WORK/fake.log")" 'SENTINEL' "fake_mysql: the password never reaches the fake server"
# not even with ssl_mode REQUIRED: Connector/C authenticates before it
# finds that the server has no TLS, so cleartext plugins are never allowed
t_psql -c "ALTER SERVER fake_clear OPTIONS (SET ssl_mode 'REQUIRED')" >/dev/null
T_PSQL_TIMEOUT=30 t_sql_capture "$T_WORK/clear_tls.query" \
	"SELECT count(*) FROM pypeline.query('fake_clear', 'SELECT * FROM fake') AS t(x text)"
t_unlike "$(cat "$T_WORK/fake.log")" 'SENTINEL' "fake_mysql: nor with ssl_mode REQUIRED against a server without TLS"
