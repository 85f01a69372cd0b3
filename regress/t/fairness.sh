#!/usr/bin/env bash
# No role can stall another's ETLs or take every worker:
#   - locks a role can take (an advisory lock on pypeline's old key, ACCESS
#     SHARE on pypeline's tables) do not delay another role's run, and the
#     row locks that serialise runs are not a role's to take;
#   - a role runs at most min(pypeline.max_parallel_etls, CONNECTION LIMIT)
#     workers at once, its other tasks wait for them, and another role's
#     task submitted after a dozen of them is not queued behind them;
#   - a role queues at most pypeline.max_queued_tasks tasks.
cd "$(dirname "$0")/../.." || exit 1
. regress/t/lib.sh

cleanup_mysql() {
	t_mysql -e "DROP VIEW IF EXISTS tf_slow"
}
cleanup_roles() {
	cleanup_mysql
	timeout 30 psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $T_DB WITH (FORCE)" \
		-c "DROP ROLE IF EXISTS regress_tf_alice, regress_tf_bob, regress_tf_carol" >/dev/null 2>&1
}
T_CLEANUP=cleanup_roles
trap t_finish EXIT

t_ensure_mariadb
if ! t_setup_db; then
	t_not_ok "fairness: set-up"
	exit 1
fi
t_mysql -e "CREATE OR REPLACE VIEW tf_slow AS SELECT 1 AS id, SLEEP(0.4) AS slept"
t_psql >/dev/null <<SQL
CREATE ROLE regress_tf_alice LOGIN CONNECTION LIMIT 2;
CREATE ROLE regress_tf_bob LOGIN;
CREATE ROLE regress_tf_carol LOGIN CONNECTION LIMIT 0;
GRANT USAGE ON FOREIGN SERVER src TO regress_tf_alice, regress_tf_bob, regress_tf_carol;
CREATE USER MAPPING FOR regress_tf_alice SERVER src OPTIONS (username 'etl', password 'etl_secret');
CREATE USER MAPPING FOR regress_tf_bob SERVER src OPTIONS (username 'etl', password 'etl_secret');
CREATE SCHEMA tf_alice AUTHORIZATION regress_tf_alice;
CREATE SCHEMA tf_bob AUTHORIZATION regress_tf_bob;
SET ROLE regress_tf_alice;
SELECT pypeline.define_dimension('tf_a' || i, 'src', 'SELECT id, slept FROM tf_slow', 'tf_alice.a' || i || '_dim',
	natural_key => '{id}') FROM generate_series(1, 4) i;
RESET ROLE;
SET ROLE regress_tf_bob;
SELECT pypeline.define_dimension('tf_b', 'src', 'SELECT id, slept FROM tf_slow', 'tf_bob.b_dim', natural_key => '{id}');
SQL

# ---------------------------------------------------- locks of another role
t_bg "$T_WORK/locker.out" t_tf_locker "SET ROLE regress_tf_alice" "BEGIN" \
	"SELECT pg_advisory_lock(hashtext('pypeline'), hashtext('dimension:tf_b'))" \
	"LOCK pypeline.dimension, pypeline.task, pypeline.watermark, pypeline.run_log IN ACCESS SHARE MODE" \
	"SELECT pg_sleep(30)" "COMMIT"
locker=$T_BG_PID
if t_wait_sql 20 "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 't_tf_locker' AND wait_event = 'PgSleep')"; then
	start=$(t_now_ms)
	out=$(T_PSQL_TIMEOUT=20 t_psql -c "SET ROLE regress_tf_bob" -c "SELECT rows FROM pypeline.process_etl('tf_b', 'dimension')" 2>&1)
	elapsed=$(($(t_now_ms) - start))
	t_is "$out" 1 "fairness: bob's run goes through alice's locks"
	if [ "$elapsed" -lt 10000 ]; then
		t_ok "fairness: without waiting for them (${elapsed} ms)"
	else
		t_not_ok "fairness: without waiting for them (${elapsed} ms)"
	fi
	out=$(T_PSQL_TIMEOUT=30 t_psql 2>&1 <<-SQL
		SET ROLE regress_tf_bob;
		SELECT pypeline.process_etl_async('tf_b', 'dimension') AS t \\gset
		SELECT pypeline.wait(:t, '20 seconds');
	SQL
	)
	t_is "$out" SUCCESS "fairness: and so does his task"
	out=$(T_PSQL_TIMEOUT=10 t_psql -c "SET ROLE regress_tf_alice" \
		-c "SELECT 1 FROM pypeline.dimension WHERE name = 'tf_b' FOR KEY SHARE" 2>&1)
	t_like "$out" 'permission denied for table dimension' "fairness: alice cannot lock a definition's row"
else
	t_not_ok "fairness: alice's locking session got its locks"
	t_diag <"$T_WORK/locker.out"
fi
kill "$(cat "$T_WORK/locker.out.pid")" 2>/dev/null
t_wait_pid "$locker" 10

# ---------------------------------------------------- workers per role
for i in 1 2 3; do
	for e in 1 2 3 4; do
		echo "SELECT pypeline.process_etl_async('tf_a$e', 'dimension');"
	done
done >"$T_WORK/submit.sql"
# as the superuser with SET ROLE: alice's logins count against her CONNECTION LIMIT
t_psql -c "SET ROLE regress_tf_alice" -f "$T_WORK/submit.sql" >/dev/null 2>&1
bob_task=$(t_psql -c "SET ROLE regress_tf_bob" -c "SELECT pypeline.process_etl_async('tf_b', 'dimension')" 2>/dev/null)
most=0
bob_done_first=no
deadline=$(($(t_now_ms) + 60000))
while [ "$(t_now_ms)" -lt "$deadline" ]; do
	read -r running pending bob_state <<<"$(T_PSQL_TIMEOUT=10 t_sql "SELECT
		(SELECT count(*) FROM pypeline.task WHERE submitted_by = 'regress_tf_alice' AND state = 'STARTED'),
		(SELECT count(*) FROM pypeline.task WHERE submitted_by = 'regress_tf_alice' AND state IN ('PENDING', 'STARTED')),
		(SELECT state FROM pypeline.task WHERE id = ${bob_task:-0})" | tr '|' ' ')"
	[ "${running:-0}" -gt "$most" ] && most=$running
	[ "$bob_state" = SUCCESS ] && [ "${pending:-0}" -gt 0 ] && bob_done_first=yes
	[ "${pending:-1}" -eq 0 ] && [ "$bob_state" = SUCCESS ] && break
	sleep 0.1
done
t_is "$(t_sql "SELECT state, count(*) FROM pypeline.task WHERE submitted_by = 'regress_tf_alice' GROUP BY 1")" "SUCCESS|12" \
	"fairness: all twelve of alice's tasks succeed"
if [ "$most" -ge 1 ] && [ "$most" -le 2 ]; then
	t_ok "fairness: alice never runs more tasks at once than her CONNECTION LIMIT of 2 (at most $most seen)"
else
	t_not_ok "fairness: alice never runs more tasks at once than her CONNECTION LIMIT of 2 (at most $most seen)"
fi
t_is "$bob_done_first" yes "fairness: bob's task, submitted after alice's twelve, ends while hers still wait"

# ---------------------------------------------------- queued tasks per role
out=$(t_psql -c "SET pypeline.max_queued_tasks = 3" -c "SET ROLE regress_tf_carol" \
	-c "SELECT pypeline.process_etl_async('tf_b', 'dimension') FROM generate_series(1, 3)" \
	-c "SELECT pypeline.process_etl_async('tf_b', 'dimension')" 2>&1)
t_like "$out" 'role regress_tf_carol already has 3 tasks waiting to start' \
	"fairness: a role queues at most pypeline.max_queued_tasks tasks"
t_is "$(t_sql "SELECT count(*) FROM pypeline.task WHERE submitted_by = 'regress_tf_carol' AND state = 'PENDING'")" 3 \
	"fairness: a role whose CONNECTION LIMIT is 0 gets no worker"
