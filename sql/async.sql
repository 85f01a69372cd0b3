-- Asynchronous tasks in background workers (the old Celery tasks), parallel
-- refreshes, revoke, recovery of dead workers, privileges.
\! bash regress/mysql-exec.sh -e "CREATE TABLE a_src (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO a_src VALUES (1, 'one'), (2, 'two'), (3, 'three')"
-- four independent dimensions whose sources take a second each
SELECT pypeline.define_dimension('a' || i, 'regress_mysql',
	'SELECT id, name, SLEEP(1) AS pause FROM a_src', 'a' || i || '_dim', natural_key => '{id}')
FROM generate_series(1, 4) i;

CREATE FUNCTION wait_until_started(task bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..100 LOOP
		EXIT WHEN pypeline.task_status(task) = 'STARTED';
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;

-- success and result
SELECT pypeline.process_etl_async('a1', 'dimension') AS task \gset
SELECT pypeline.wait(:task, '60 seconds');
SELECT pypeline.task_status(:task), pypeline.task_result(:task);
SELECT what, arguments, state, error IS NULL AS no_error, worker_pid <> pg_backend_pid() AS other_process,
       started_at >= submitted_at AND finished_at >= started_at AS ordered_times, submitted_by
FROM pypeline.task WHERE id = :task;
SELECT count(*) FROM a1_dim;

-- a task submitted in a transaction that rolls back never runs
BEGIN;
SELECT pypeline.process_etl_async('a2', 'dimension') AS task \gset
SELECT pypeline.wait(:task, '1 second');
ROLLBACK;
SELECT pg_sleep(1.5);
SELECT count(*) FROM pypeline.task WHERE id = :task;
SELECT to_regclass('a2_dim') IS NULL AS not_loaded;

-- a failing ETL: FAILURE with the error, the target untouched, a run_log row
SELECT pypeline.define_dimension('broken', 'regress_mysql', 'SELECT nope FROM a_src', 'broken_dim',
	natural_key => '{id}');
SELECT pypeline.process_etl_async('broken', 'dimension') AS task \gset
SELECT pypeline.wait(:task, '60 seconds');
SELECT state, error FROM pypeline.task WHERE id = :task;
SELECT pypeline.task_result(:task);
SELECT wait_for_failed_run('broken');
SELECT etl_type, etl_name, target, status, message FROM pypeline.run_log
WHERE status = 'failure' AND etl_name = 'broken';
SELECT to_regclass('broken_dim') IS NULL AS not_created;
SELECT pypeline.set_active('broken', 'dimension', false);

-- an incremental refresh runs the four dimensions in parallel workers
SET pypeline.max_parallel_etls = 4;
SELECT pypeline.refresh_data_warehouse_async(true, false, false) AS task \gset
SELECT pypeline.wait(:task, '60 seconds');
SELECT pypeline.task_result(:task);
SELECT count(*) AS subtasks, count(DISTINCT worker_pid) >= 2 AS several_workers,
       bool_and(state = 'SUCCESS') AS all_succeeded
FROM pypeline.task WHERE parent_id = :task;
-- observed, not assumed: at least two sub-tasks ran at the same time
SELECT count(*) > 0 AS overlapped FROM pypeline.task x JOIN pypeline.task y
	ON x.parent_id = :task AND y.parent_id = :task AND x.id < y.id
	AND tstzrange(x.started_at, x.finished_at) && tstzrange(y.started_at, y.finished_at);

-- revoke cancels a running task; its ETL rolls back and MySQL stops
SELECT pypeline.define_dimension('slow', 'regress_mysql', 'SELECT id, SLEEP(30) AS pause FROM a_src',
	'slow_dim', natural_key => '{id}');
SELECT pypeline.process_etl_async('slow', 'dimension') AS task \gset
SELECT wait_until_started(:task);
-- while it runs, pypeline.progress shows it (MySQL sends its first row after 30 s)
SELECT etl_type, etl_name, target, phase, rows_read, elapsed >= interval '0' AS timed
FROM pypeline.progress;
SELECT pypeline.revoke(:task);
SELECT pypeline.wait(:task, '30 seconds');
SELECT state, error FROM pypeline.task WHERE id = :task;
SELECT to_regclass('slow_dim') IS NULL AS rolled_back;
SELECT pg_sleep(1);
SELECT count(*) AS still_sleeping FROM pypeline.query('regress_mysql',
	'SELECT id FROM information_schema.processlist WHERE info LIKE ''%SLEEP(30)%'' AND info NOT LIKE ''%processlist%''') AS t(id bigint);
SELECT pypeline.revoke(:task);

-- a worker that dies without a word leaves FAILURE, not STARTED
SELECT pypeline.process_etl_async('slow', 'dimension') AS task \gset
SELECT wait_until_started(:task);
SELECT pg_terminate_backend(worker_pid) FROM pypeline.task WHERE id = :task;
SELECT pypeline.wait(:task, '30 seconds');
SELECT state, error FROM pypeline.task WHERE id = :task;
SELECT pypeline.set_active('slow', 'dimension', false);

-- waiting inside the submitting transaction would wait forever: refused
BEGIN;
SELECT pypeline.process_etl_async('a1', 'dimension') AS task \gset
SELECT pypeline.wait(:task);
ROLLBACK;

-- each role sees and revokes only its own tasks (or those of roles it belongs to)
CREATE ROLE regress_etl_a LOGIN;
CREATE ROLE regress_etl_b LOGIN;
GRANT USAGE ON FOREIGN SERVER regress_mysql TO regress_etl_a;
GRANT CREATE ON SCHEMA public TO regress_etl_a;
CREATE USER MAPPING FOR regress_etl_a SERVER regress_mysql OPTIONS (username 'etl', password 'etl_secret');
SET ROLE regress_etl_a;
SELECT pypeline.define_dimension('a_own', 'regress_mysql', 'SELECT id, name FROM a_src', 'a_own_dim',
	natural_key => '{id}', active => false);
SELECT pypeline.process_etl_async('a_own', 'dimension') AS task \gset
RESET ROLE;
SELECT pypeline.wait(:task, '60 seconds');
SELECT state, submitted_by, result, error FROM pypeline.task WHERE id = :task;
SELECT tableowner FROM pg_tables WHERE tablename = 'a_own_dim';
SET ROLE regress_etl_b;
SELECT count(*) FROM pypeline.task;
SELECT pypeline.task_status(:task);
SELECT pypeline.revoke(:task);
RESET ROLE;
DROP TABLE a_own_dim;
DROP USER MAPPING FOR regress_etl_a SERVER regress_mysql;
REVOKE USAGE ON FOREIGN SERVER regress_mysql FROM regress_etl_a;
REVOKE CREATE ON SCHEMA public FROM regress_etl_a;
DELETE FROM pypeline.task WHERE submitted_by = 'regress_etl_a';
DELETE FROM pypeline.run_log WHERE owner = 'regress_etl_a'::regrole;
SELECT pypeline.drop_etl('a_own', 'dimension');
DROP ROLE regress_etl_a, regress_etl_b;

-- schedules go through pg_cron, which is optional
SELECT pypeline.schedule('nightly-refresh', '0 3 * * *');
CREATE EXTENSION pg_cron;
SELECT pypeline.schedule('nightly-refresh', '0 3 * * *', run_dimensions => true,
	run_facts => true, delete_existing_tables => false);
SELECT pypeline.schedule('a1-hourly', '0 * * * *', etl => 'a1', kind => 'dimension');
SELECT pypeline.schedule('nothing', '0 * * * *', etl => 'nothing', kind => 'dimension');
SELECT jobname, schedule, command, database, username FROM cron.job ORDER BY jobid;
-- the job's command is a plain call: run it as pg_cron would
DELETE FROM pypeline.run_log;
DO $$
DECLARE
	cmd text;
BEGIN
	SELECT command INTO cmd FROM cron.job WHERE jobname = 'a1-hourly';
	EXECUTE cmd;
END $$;
SELECT etl_name, status FROM pypeline.run_log WHERE etl_name = 'a1';
SELECT pypeline.unschedule('nightly-refresh');
SELECT pypeline.unschedule('a1-hourly');
SELECT count(*) FROM cron.job;
DROP EXTENSION pg_cron;

DROP TABLE a1_dim, a2_dim, a3_dim, a4_dim;
DROP FUNCTION wait_until_started(bigint);
DELETE FROM pypeline.task;
DELETE FROM pypeline.dimension;
DELETE FROM pypeline.run_log;
