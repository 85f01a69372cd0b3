#!/usr/bin/env bash
# A fact table whose partitions live on other PostgreSQL nodes (postgres_fdw
# foreign tables as partitions, doc/scale-out.md): a load puts each row on
# the node of its period; a second PostgreSQL instance ("node2", on a unix
# socket under the test's work directory) holds the remote partition.
#   1. a load and a rebuild: every row once, on the right node;
#   2. node2 stopped while the source streams: the load fails naming the
#      node, and neither node nor the watermark changed; once node2 is back
#      the next load writes the rows that were missing, once.
# What atomicity holds across nodes without two-phase commit (PostgreSQL
# 15) is in doc/scale-out.md: here the node is down before its transaction
# commits, so every node is left as it was.
cd "$(dirname "$0")/../.." || exit 1
. regress/t/lib.sh

NODE_DIR=$T_WORK/node2
NODE_PORT=$(free_port $((PGPORT + 100)))
node_stop() {
	[ -f "$NODE_DIR/data/postmaster.pid" ] &&
		as_server_user "$PGBIN/pg_ctl" -D "$NODE_DIR/data" -m immediate -w stop >/dev/null 2>&1
	return 0
}
node_start() {
	as_server_user "$PGBIN/pg_ctl" -D "$NODE_DIR/data" -l "$NODE_DIR/log" -w -t 60 start >/dev/null
}
node_psql() {
	timeout -k 5 60 psql -X -q -At -v ON_ERROR_STOP=1 -h "$NODE_DIR" -p "$NODE_PORT" -U postgres -d postgres "$@"
}
cleanup() {
	node_stop
	t_mysql -e "DROP VIEW IF EXISTS nd_src; DROP TABLE IF EXISTS nd_event, nd_ctl"
}
T_CLEANUP=cleanup
trap 't_finish; node_stop' EXIT

t_ensure_mariadb
mkdir -p "$NODE_DIR"
[ "$(id -u)" -eq 0 ] && chown "$SERVER_USER" "$NODE_DIR"
if ! as_server_user "$PGBIN/initdb" -D "$NODE_DIR/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C \
	>"$NODE_DIR/initdb.log" 2>&1; then
	t_not_ok "nodes: node2 initialized"
	cat "$NODE_DIR/initdb.log" | t_diag
	exit 1
fi
cat >>"$NODE_DIR/data/postgresql.conf" <<CONF
port = $NODE_PORT
listen_addresses = ''
unix_socket_directories = '$NODE_DIR'
fsync = off
CONF
if ! node_start || ! t_setup_db; then
	t_not_ok "nodes: set-up"
	exit 1
fi

# the source: three months; nd_ctl.pause = 1 makes it stop 5 s at id 1000
t_mysql -e "
	CREATE OR REPLACE TABLE nd_ctl (pause INT NOT NULL) ENGINE=Aria;
	INSERT INTO nd_ctl VALUES (0);
	CREATE OR REPLACE TABLE nd_event (id INT PRIMARY KEY, amount DECIMAL(8,2), happened DATETIME);
	INSERT INTO nd_event SELECT seq, seq / 100, TIMESTAMP'2024-01-01 00:00:00' + INTERVAL (seq * 3) MINUTE
		FROM seq_1_to_2000;
	CREATE OR REPLACE VIEW nd_src AS SELECT e.id, e.amount, e.happened FROM nd_event e, nd_ctl c
		WHERE e.id <> 1000 OR c.pause = 0 OR SLEEP(5) = 0"
node_psql -c "CREATE TABLE nd_fact_2024 (id int, amount numeric(8,2), happened timestamp)" >/dev/null
t_psql >/dev/null <<SQL
CREATE EXTENSION postgres_fdw;
CREATE SERVER node2 FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '$NODE_DIR', port '$NODE_PORT', dbname 'postgres', batch_size '100');
CREATE USER MAPPING FOR CURRENT_USER SERVER node2 OPTIONS (user 'postgres');
CREATE TABLE nd_fact (id int, amount numeric(8,2), happened timestamp) PARTITION BY RANGE (happened);
CREATE TABLE nd_fact_jan PARTITION OF nd_fact FOR VALUES FROM ('2024-01-01') TO ('2024-01-04');
CREATE FOREIGN TABLE nd_fact_node2 PARTITION OF nd_fact FOR VALUES FROM ('2024-01-04') TO ('2025-01-01')
	SERVER node2 OPTIONS (table_name 'nd_fact_2024');
SELECT pypeline.define_fact('nd', 'src', 'SELECT id, amount, happened FROM nd_src', 'nd_fact',
	measures => '{amount}', degenerate_columns => '{id}', event_time_column => 'happened',
	incremental_column => 'id',
	target_ddl => 'CREATE TABLE nd_fact (id int, amount numeric(8,2), happened timestamp) PARTITION BY RANGE (happened)');
SQL

# local | on node2 (read there) | through the parent
placement() {
	echo "$(t_sql "SELECT count(*) FROM ONLY nd_fact_jan") $(node_psql -c "SELECT count(*) || '/' || count(DISTINCT id) FROM nd_fact_2024") $(t_sql "SELECT count(*) FROM nd_fact")"
}
expected_local=$(t_mysql -e "SELECT COUNT(*) FROM nd_event WHERE happened < '2024-01-04'")

# --------------------------------------------------- 1. a load and a rebuild
t_is "$(t_sql "SELECT rows FROM pypeline.process_etl('nd', 'fact')")" 2000 "nodes: the first load reads every row"
t_is "$(placement)" "$expected_local $((2000 - expected_local))/$((2000 - expected_local)) 2000" \
	"nodes: each row is on the node of its period, once"
t_is "$(t_sql "SELECT rows FROM pypeline.process_etl('nd', 'fact', delete_existing_table => true)")" 2000 \
	"nodes: a rebuild reads every row again"
t_is "$(placement)" "$expected_local $((2000 - expected_local))/$((2000 - expected_local)) 2000" \
	"nodes: after the rebuild, each row is on its node once (node2's rows replaced through postgres_fdw)"
t_is "$(t_sql "SELECT count(*) FROM pypeline.check_fact('nd')")" 0 "nodes: check_fact finds nothing"

# ------------------------------------------- 2. node2 down in the middle of a load
t_mysql -e "INSERT INTO nd_event SELECT 2000 + seq, 1, TIMESTAMP'2024-01-01 06:00:00' + INTERVAL (seq * 97) MINUTE
	FROM seq_1_to_100; UPDATE nd_ctl SET pause = 1"
# the paused row is below the watermark: pause a new row instead
t_mysql -e "CREATE OR REPLACE VIEW nd_src AS SELECT e.id, e.amount, e.happened FROM nd_event e, nd_ctl c
	WHERE e.id <> 2050 OR c.pause = 0 OR SLEEP(5) = 0"
before="$(placement) $(t_sql "SELECT value FROM pypeline.watermark WHERE etl_name = 'nd'")"
t_bg "$T_WORK/down.out" t_nodes_down "SELECT rows FROM pypeline.process_etl('nd', 'fact')"
if t_wait_mysql_query "%nd_src%" 30 "User sleep"; then
	node_stop
	t_wait_pid "$T_BG_PID" 60
	t_unlike "$(cat "$T_WORK/down.out.rc")" '^0$' "nodes: the load with node2 down failed"
	t_like "$(cat "$T_WORK/down.out")" 'node2' "nodes: its error names the node"
	cat "$T_WORK/down.out" | head -3 | t_diag
	t_is "$(t_sql "SELECT count(*) FROM ONLY nd_fact_jan") $(t_sql "SELECT value FROM pypeline.watermark WHERE etl_name = 'nd'")" \
		"$(echo "$before" | cut -d' ' -f1) $(echo "$before" | cut -d' ' -f4)" \
		"nodes: the local partition and the watermark are as before"
else
	t_not_ok "nodes: the load reached the source's pause"
	t_wait_pid "$T_BG_PID" 60
fi
t_mysql -e "UPDATE nd_ctl SET pause = 0"
node_start
t_is "$(node_psql -c "SELECT count(*) FROM nd_fact_2024")" "$(echo "$before" | cut -d' ' -f2 | cut -d/ -f1)" \
	"nodes: node2's partition is as before"
t_is "$(t_sql "SELECT rows FROM pypeline.process_etl('nd', 'fact')")" 100 "nodes: with node2 back, the next load reads the new rows"
local_now=$(t_mysql -e "SELECT COUNT(*) FROM nd_event WHERE happened < '2024-01-04'")
t_is "$(placement)" "$local_now $((2100 - local_now))/$((2100 - local_now)) 2100" \
	"nodes: every row is on its node once"
