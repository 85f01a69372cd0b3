#!/usr/bin/env bash
# Every SQL function of pypeline, called by an ordinary role (one that owns
# ETLs of its own) with random arguments from hostile pools (NULLs, empty and
# 100 kB strings, quotes and comment marks, other roles' ETL names, odd
# numbers and JSON): each call returns or raises an error; no process of the
# cluster dies of a signal, and the server answers afterwards.  Seeded:
# FUZZ_SEED replays a run, FUZZ multiplies the calls (make check FUZZ=10).
cd "$(dirname "$0")/../.." || exit 1
. regress/t/lib.sh

seed=${FUZZ_SEED:-$(date +%s)}
per_function=$((20 * ${FUZZ:-1}))
cleanup_mysql() {
	t_mysql -e "DROP TABLE IF EXISTS fz_src"
}
cleanup_roles() {
	cleanup_mysql
	timeout 30 psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $T_DB WITH (FORCE)" \
		-c "DROP ROLE IF EXISTS regress_fz" >/dev/null 2>&1
}
T_CLEANUP=cleanup_roles
trap t_finish EXIT

t_ensure_mariadb
if ! t_setup_db; then
	t_not_ok "fuzz: set-up"
	exit 1
fi
t_mysql -e "CREATE TABLE fz_src (id INT PRIMARY KEY, name VARCHAR(10)); INSERT INTO fz_src VALUES (1, 'a'), (2, 'b')"
t_psql >/dev/null <<SQL
CREATE ROLE regress_fz LOGIN;
GRANT USAGE ON FOREIGN SERVER src TO regress_fz;
CREATE USER MAPPING FOR regress_fz SERVER src OPTIONS (username 'etl', password 'etl_secret');
CREATE SCHEMA fz AUTHORIZATION regress_fz;
CREATE TABLE fz_victim (x int);
-- the superuser's ETLs, which the role may not run
SELECT pypeline.define_dimension('fz_other', 'src', 'SELECT id, name FROM fz_src', 'fz_other_dim', natural_key => '{id}');
SET ROLE regress_fz;
SELECT pypeline.define_dimension('fz_dim', 'src', 'SELECT id, name FROM fz_src', 'fz.fz_dim', natural_key => '{id}');
SELECT pypeline.define_fact('fz_fact', 'src', 'SELECT id, id AS dim_id FROM fz_src', 'fz.fz_fact',
	lookups => '{"fz_dim": "dim_id"}', degenerate_columns => '{id}');
SQL

t_psql -c "SELECT p.proname || '|' || coalesce(array_to_string(
		ARRAY(SELECT format_type(t, NULL) FROM unnest(p.proargtypes) t), ','), '') || '|' || p.proretset
	FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
	WHERE n.nspname = 'pypeline' AND p.prorettype <> 'trigger'::regtype ORDER BY 1" >"$T_WORK/functions"
python3 regress/fuzz_calls.py "$seed" "$per_function" <"$T_WORK/functions" >"$T_WORK/calls.sql"
t_diag "seed $seed: $(wc -l <"$T_WORK/calls.sql") calls of $(wc -l <"$T_WORK/functions") functions (FUZZ_SEED=$seed replays them)"

offset=$(t_log_offset)
{
	echo "SET ROLE regress_fz;"
	echo "SET statement_timeout = '20s';"
	echo "SET client_min_messages = error;"
	cat "$T_WORK/calls.sql"
} >"$T_WORK/run.sql"
T_PSQL_TIMEOUT=900 timeout -k 5 900 psql -X -q -At -d "$T_DB" -v ON_ERROR_STOP=0 -f "$T_WORK/run.sql" \
	>"$T_WORK/run.out" 2>&1
t_diag "$(grep -c 'ERROR:' "$T_WORK/run.out") calls ended with an error; the most frequent:"
sed -n 's/.*ERROR:  //p' "$T_WORK/run.out" | cut -c1-90 | sort | uniq -c | sort -rn | head -12 | t_diag
t_unlike "$(cat "$T_WORK/run.out")" 'server closed the connection unexpectedly|connection to server was lost' \
	"fuzz: the session survives every call"
# the tasks it queued run (or fail) in workers: wait for them to end
t_wait_sql 60 "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pypeline worker')" ||
	t_diag "pypeline workers still running after 60 s"
[ -n "${FUZZ_KEEP:-}" ] && cp -r "$T_WORK" "$FUZZ_KEEP"
crashes=$(t_crashes_since "$offset")
if [ -z "$crashes" ]; then
	t_ok "fuzz: no process died of a signal"
else
	t_not_ok "fuzz: no process died of a signal (seed $seed)"
	printf '%s\n' "$crashes" | t_diag
fi
t_is "$(t_sql "SELECT 1")" 1 "fuzz: the server answers"
t_is "$(t_sql "SELECT count(*) FROM pg_class WHERE relname = 'fz_victim'")" 1 "fuzz: no hostile name ran as SQL"
t_is "$(t_sql "SELECT rolsuper OR rolcreatedb OR rolcreaterole FROM pg_roles WHERE rolname = 'regress_fz'")" f \
	"fuzz: the role gained no attribute"
t_is "$(t_sql "SELECT count(*) FROM pypeline.dimension WHERE name = 'fz_other' AND owner = 'postgres'::regrole AND active")" 1 \
	"fuzz: the superuser's ETL is as it was"
