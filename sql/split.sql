-- Split reads (split_column): a fact's source read as key ranges of a
-- column by background workers, each range in the same snapshot, the rows
-- loaded in the run's transaction.  The reference is the same source read
-- serially: every split load must hold exactly its rows.

\! bash regress/mysql-exec.sh -e "SET SESSION max_recursive_iterations = 100000; CREATE TABLE sp_event (id INT PRIMARY KEY, grp INT NULL, day DATE, amount DECIMAL(10,2), label VARCHAR(20), big BIGINT UNSIGNED, KEY (grp), KEY (day)); INSERT INTO sp_event SELECT n, CASE WHEN n % 97 = 0 THEN NULL ELSE (n * 37) % 1000 - 300 END, DATE '2020-01-01' + INTERVAL (n % 400) DAY, n / 8, CONCAT('e', n), 18446744073709551615 - n FROM (WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 3000) SELECT n FROM s) AS s"
SET pypeline.max_parallel_etls = 3;
CREATE FUNCTION sp_define(name text, split text, incremental text DEFAULT NULL) RETURNS text LANGUAGE sql AS $$
	SELECT pypeline.define_fact(name, 'regress_mysql', 'SELECT id, grp, day, amount, label, big FROM sp_event',
		name || '_fact', measures => '{amount}', degenerate_columns => '{id,grp,day,label,big}',
		incremental_column => incremental, split_column => split)
$$;
-- rows of one table that the other lacks, counted with their repeats
CREATE FUNCTION sp_differences(a regclass, b regclass, OUT missing bigint, OUT extra bigint) LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('SELECT count(*) FROM (TABLE %s EXCEPT ALL TABLE %s) d', a, b) INTO missing;
	EXECUTE format('SELECT count(*) FROM (TABLE %s EXCEPT ALL TABLE %s) d', b, a) INTO extra;
END $$;
CREATE FUNCTION sp_last_message(etl text) RETURNS text LANGUAGE sql AS $$
	SELECT message FROM pypeline.run_log WHERE etl_name = etl ORDER BY id DESC LIMIT 1
$$;
-- readers end with their run; a moment later no reader is left
CREATE FUNCTION sp_readers_left() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	FOR i IN 1..100 LOOP
		SELECT count(*) INTO n FROM pg_stat_activity WHERE backend_type = 'pypeline split reader';
		EXIT WHEN n = 0;
		PERFORM pg_sleep(0.05);
	END LOOP;
	RETURN n;
END $$;

SELECT sp_define('sp_serial', NULL), sp_define('sp_by_grp', 'grp'), sp_define('sp_by_day', 'day'),
       sp_define('sp_by_big', 'big');
SELECT etl_type, etl_name, rows FROM pypeline.process_etl('sp_serial', 'fact');
SELECT etl_type, etl_name, rows FROM pypeline.process_etl('sp_by_grp', 'fact');
SELECT etl_type, etl_name, rows FROM pypeline.process_etl('sp_by_day', 'fact');
SELECT etl_type, etl_name, rows FROM pypeline.process_etl('sp_by_big', 'fact');
SELECT * FROM sp_differences('sp_serial_fact', 'sp_by_grp_fact');
SELECT * FROM sp_differences('sp_serial_fact', 'sp_by_day_fact');
SELECT * FROM sp_differences('sp_serial_fact', 'sp_by_big_fact');
SELECT count(*) FILTER (WHERE grp IS NULL) AS null_keys_loaded, count(*) AS rows FROM sp_by_grp_fact;
SELECT etl_name, rows_read, rows_inserted, message FROM pypeline.run_log WHERE etl_name LIKE 'sp_%' ORDER BY id;

-- a full source's rerun replaces the rows; a rebuild reads the ranges again
\! bash regress/mysql-exec.sh -e "UPDATE sp_event SET amount = amount + 1 WHERE id % 10 = 0; DELETE FROM sp_event WHERE id BETWEEN 100 AND 120"
SELECT rows FROM pypeline.process_etl('sp_serial', 'fact');
SELECT rows FROM pypeline.process_etl('sp_by_grp', 'fact');
SELECT rows FROM pypeline.process_etl('sp_by_day', 'fact', delete_existing_table => true);
SELECT * FROM sp_differences('sp_serial_fact', 'sp_by_grp_fact');
SELECT * FROM sp_differences('sp_serial_fact', 'sp_by_day_fact');
SELECT * FROM check_all() WHERE etl LIKE 'sp_%';

-- incremental: only the rows past the watermark, in ranges
SELECT sp_define('sp_inc_serial', NULL, 'id'), sp_define('sp_inc_split', 'grp', 'id');
SELECT rows FROM pypeline.process_etl('sp_inc_serial', 'fact');
SELECT rows FROM pypeline.process_etl('sp_inc_split', 'fact');
\! bash regress/mysql-exec.sh -e "SET SESSION max_recursive_iterations = 100000; INSERT INTO sp_event SELECT n, (n * 7) % 50, DATE '2021-06-01', 1.50, CONCAT('new', n), n FROM (WITH RECURSIVE s(n) AS (SELECT 3001 UNION ALL SELECT n + 1 FROM s WHERE n < 3400) SELECT n FROM s) AS s"
SELECT rows FROM pypeline.process_etl('sp_inc_serial', 'fact');
SELECT rows FROM pypeline.process_etl('sp_inc_split', 'fact');
SELECT * FROM sp_differences('sp_inc_serial_fact', 'sp_inc_split_fact');
SELECT etl_name, value FROM pypeline.watermark WHERE etl_name LIKE 'sp_inc%' ORDER BY 1;

-- one reader: the source is read serially
SET pypeline.max_parallel_etls = 1;
SELECT rows FROM pypeline.process_etl('sp_by_grp', 'fact');
SELECT sp_last_message('sp_by_grp');
-- more readers than background workers: read serially, with a WARNING and the reason in the run log
SET pypeline.max_parallel_etls = 64;
SELECT rows FROM pypeline.process_etl('sp_by_grp', 'fact');
SELECT sp_last_message('sp_by_grp');
SELECT rows FROM pypeline.process_etl('sp_serial', 'fact');
SELECT * FROM sp_differences('sp_serial_fact', 'sp_by_grp_fact');
SELECT sp_readers_left();
SET pypeline.max_parallel_etls = 3;

-- a value a reader cannot convert fails the run with the reader's error and range; nothing is loaded
SELECT pypeline.define_fact('sp_nul', 'regress_mysql',
	'SELECT id, grp, CASE WHEN id = 2999 THEN CONCAT(''a'', CHAR(0), ''b'') ELSE label END AS label FROM sp_event',
	'sp_nul_fact', degenerate_columns => '{id,grp,label}', split_column => 'grp');
DO $$
DECLARE
	m text;
	c text;
BEGIN
	PERFORM pypeline.process_etl('sp_nul', 'fact');
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, c = PG_EXCEPTION_CONTEXT;
	RAISE NOTICE 'error: %', m;
	RAISE NOTICE 'context: %', regexp_replace(c, 'row \d+', 'row N', 'g');
END $$;
SELECT to_regclass('sp_nul_fact') IS NULL AS nothing_loaded, sp_readers_left();
-- the readers connect with the options the run resolved, in its transaction
BEGIN;
ALTER SERVER regress_mysql OPTIONS (ADD strip_nul 'true');
SELECT rows FROM pypeline.process_etl('sp_nul', 'fact');
SELECT label FROM sp_nul_fact WHERE id = 2999;
ROLLBACK;

-- a cancelled split read (statement_timeout) stops its readers and their MySQL queries
SELECT pypeline.define_fact('sp_slow', 'regress_mysql', 'SELECT id, grp, SLEEP(0.01) AS pause FROM sp_event',
	'sp_slow_fact', degenerate_columns => '{id,grp,pause}', split_column => 'grp');
SET statement_timeout = '1s';
SELECT rows FROM pypeline.process_etl('sp_slow', 'fact');
RESET statement_timeout;
SELECT to_regclass('sp_slow_fact') IS NULL AS nothing_loaded, sp_readers_left();
\! for i in $(seq 100); do n=$(bash regress/mysql-exec.sh -N -e "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%pypeline_range%' AND ID <> CONNECTION_ID()"); [ "$n" = 0 ] && break; sleep 0.1; done; echo "range queries left on MariaDB: $n"

-- an ordinary role's split fact reads with its own user mapping, as the coordinator does
CREATE ROLE regress_split_owner LOGIN;
GRANT USAGE ON FOREIGN SERVER regress_mysql TO regress_split_owner;
GRANT CREATE ON SCHEMA public TO regress_split_owner;
CREATE USER MAPPING FOR regress_split_owner SERVER regress_mysql OPTIONS (username 'etl', password 'etl_secret');
\c - regress_split_owner
SELECT pypeline.define_fact('sp_owned', 'regress_mysql', 'SELECT id, grp, amount FROM sp_event', 'sp_owned_fact',
	measures => '{amount}', degenerate_columns => '{id,grp}', split_column => 'grp');
SELECT rows FROM pypeline.process_etl('sp_owned', 'fact');
SELECT sp_last_message('sp_owned');
SELECT count(*) AS rows, count(DISTINCT id) AS ids FROM sp_owned_fact;
\c - postgres
-- a superuser running it: the readers connect as the superuser and read as the owner
SET pypeline.max_parallel_etls = 2;
SELECT rows FROM pypeline.process_etl('sp_owned', 'fact');
SELECT sp_last_message('sp_owned'), (SELECT run_by FROM pypeline.run_log ORDER BY id DESC LIMIT 1);

-- definitions that cannot be split
SELECT sp_define('sp_no_column', 'nope');
SELECT pypeline.define_fact('sp_captured', 'regress_mysql', 'SELECT id, grp FROM sp_event', 'sp_captured_fact',
	degenerate_columns => '{id,grp}', capture => 'binlog', split_column => 'grp');
SELECT sp_define('sp_by_label', 'label');
SELECT rows FROM pypeline.process_etl('sp_by_label', 'fact');
-- each reader runs the query again: a computed split value could differ there
SELECT pypeline.define_fact('sp_computed', 'regress_mysql',
	'SELECT id, ROW_NUMBER() OVER (ORDER BY grp) AS position FROM sp_event', 'sp_computed_fact',
	degenerate_columns => '{id,position}', split_column => 'position');
SELECT rows FROM pypeline.process_etl('sp_computed', 'fact');

-- an empty source has nothing to cut
\! bash regress/mysql-exec.sh -e "CREATE TABLE sp_empty (id INT PRIMARY KEY)"
SELECT pypeline.define_fact('sp_empty', 'regress_mysql', 'SELECT id FROM sp_empty', 'sp_empty_fact',
	degenerate_columns => '{id}', split_column => 'id');
SELECT rows FROM pypeline.process_etl('sp_empty', 'fact');
SELECT sp_last_message('sp_empty');

SELECT pypeline.drop_etl(name, 'fact') FROM pypeline.fact WHERE name LIKE 'sp_%' ORDER BY name;
DROP TABLE sp_serial_fact, sp_by_grp_fact, sp_by_day_fact, sp_by_big_fact, sp_inc_serial_fact, sp_inc_split_fact,
	sp_owned_fact, sp_empty_fact;
DROP OWNED BY regress_split_owner;
DROP ROLE regress_split_owner;
DROP FUNCTION sp_define, sp_differences, sp_last_message, sp_readers_left;
\! bash regress/mysql-exec.sh -e "DROP TABLE sp_event, sp_empty"
