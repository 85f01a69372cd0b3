-- Security: an ETL belongs to the role that defines it and runs with that
-- role's rights and user mapping, whoever starts it; only that role (or one
-- with its privileges) may run, change or drop it.  pypeline's own tables are
-- written by pypeline alone.  Passwords never show in the catalog, the run
-- log or task rows; a source query can only read; no name in a definition
-- and no value from the source can inject SQL.  (roles.sql has the attacks
-- of one role on another.)
\set VERBOSITY terse
\! bash regress/mysql-exec.sh -e "CREATE TABLE sec_items (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL, updated_at DATETIME NOT NULL); INSERT INTO sec_items VALUES (1, 'one', '2020-01-01'), (2, 'two', '2020-01-01'), (3, 'three', '2020-01-01'); CREATE TABLE sec_sales (id INT PRIMARY KEY, item_id INT, amount INT NOT NULL); INSERT INTO sec_sales VALUES (10, 1, 5), (11, 2, 7), (12, 9, 1); CREATE TABLE sec_codes (code VARCHAR(40) PRIMARY KEY, amount INT NOT NULL); INSERT INTO sec_codes VALUES ('a', 1), ('b', 2), ('z'' OR 1=1 -- ', 3); CREATE USER sec_user@'%' IDENTIFIED BY 'G00d-SENTINEL-pw'; CREATE USER sec_user@localhost IDENTIFIED BY 'G00d-SENTINEL-pw'; GRANT SELECT ON pypeline_regress.* TO sec_user@'%'; GRANT SELECT ON pypeline_regress.* TO sec_user@localhost"

-- An error as SQLSTATE, message and the context line naming the ETL and its
-- table (the statements pypeline ran on the way are left out).
CREATE FUNCTION sec_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	context text;
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS context = PG_EXCEPTION_CONTEXT;
	RETURN SQLSTATE || ': ' || SQLERRM
		|| coalesce(' (' || substring(context from '(?:dimension|fact) ETL "[^\n]*\(table [^\n]*\)') || ')', '');
END $$;
GRANT EXECUTE ON FUNCTION sec_try(text) TO PUBLIC;
-- the failed runs reach pypeline.run_log from a worker of their own: poll
CREATE FUNCTION sec_wait_failures(etl text, n int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	found bigint;
BEGIN
	FOR i IN 1..200 LOOP
		SELECT count(*) INTO found FROM pypeline.run_log WHERE etl_name = etl AND status = 'failure';
		EXIT WHEN found >= n;
		PERFORM pg_sleep(0.05);
	END LOOP;
	RETURN found;
END $$;

-- No function of the extension is SECURITY DEFINER or changes a setting on
-- entry: the C functions that write pypeline's tables switch to the
-- extension's owner for those statements only (privilege.c).
SELECT count(*) > 0 AS has_functions,
       count(*) FILTER (WHERE p.prosecdef) AS security_definer,
       count(*) FILTER (WHERE p.proconfig IS NOT NULL) AS with_settings
FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
JOIN pg_extension e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
WHERE e.extname = 'pypeline' AND d.deptype = 'e';
-- and PUBLIC may only read pypeline's tables
SELECT c.relname, array_agg(DISTINCT a.privilege_type ORDER BY a.privilege_type) AS public_may
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
     LATERAL aclexplode(c.relacl) a
WHERE n.nspname = 'pypeline' AND c.relkind IN ('r', 'S', 'v') AND a.grantee = 0
GROUP BY 1 ORDER BY 1;

-- The extension owner's ETLs, into a schema of their own.
CREATE SCHEMA sec_wh;
SELECT pypeline.define_dimension('sec_item', 'regress_mysql',
	'SELECT id, name FROM sec_items', 'sec_wh.item_dim', natural_key => '{id}');
SELECT pypeline.define_fact('sec_sale', 'regress_mysql',
	'SELECT id, item_id, amount FROM sec_sales', 'sec_wh.sale_fact',
	lookups => '{"sec_item": "item_id"}', measures => '{amount}', degenerate_columns => '{id}',
	incremental_column => 'id');
SELECT etl_type, etl_name, owner FROM pypeline.etls WHERE etl_name LIKE 'sec%' ORDER BY 1, 2;

-- Another role may not run them: a refresh skips them and says so.
CREATE ROLE regress_sec_etl LOGIN;
GRANT USAGE ON SCHEMA sec_wh TO regress_sec_etl;
SET ROLE regress_sec_etl;
SELECT sec_try($$SELECT * FROM pypeline.process_etl('sec_item', 'dimension')$$);
SELECT sec_try($$SELECT * FROM pypeline.process_etl('sec_sale', 'fact', delete_existing_table => true)$$);
SELECT * FROM pypeline.refresh_data_warehouse(true, true, false);
SELECT * FROM pypeline.test_dimension_source();
SELECT pypeline.process_etl_async('sec_item', 'dimension') AS task \gset
RESET ROLE;
SELECT pypeline.wait(:task, '60 seconds');
SELECT state, error FROM pypeline.task WHERE id = :task;

-- The role's own ETL needs USAGE on the server, a user mapping of its own
-- with a password, and CREATE on the target's schema; nothing is created on
-- the way.
SET ROLE regress_sec_etl;
SELECT pypeline.define_dimension('sec_own', 'regress_mysql',
	'SELECT id, name FROM sec_items', 'sec_wh.own_dim', natural_key => '{id}');
SELECT sec_try($$SELECT * FROM pypeline.process_etl('sec_own', 'dimension')$$);
RESET ROLE;
GRANT USAGE ON FOREIGN SERVER regress_mysql TO regress_sec_etl;
SET ROLE regress_sec_etl;
SELECT sec_try($$SELECT * FROM pypeline.process_etl('sec_own', 'dimension')$$);
RESET ROLE;
CREATE USER MAPPING FOR regress_sec_etl SERVER regress_mysql OPTIONS (username 'etl');
SET ROLE regress_sec_etl;
SELECT sec_try($$SELECT * FROM pypeline.process_etl('sec_own', 'dimension')$$);
RESET ROLE;
ALTER USER MAPPING FOR regress_sec_etl SERVER regress_mysql OPTIONS (ADD password 'etl_secret');
SET ROLE regress_sec_etl;
SELECT etl_name, server, status, rows FROM pypeline.test_dimension_source() ORDER BY etl_name;
SELECT sec_try($$SELECT * FROM pypeline.process_etl('sec_own', 'dimension')$$);
RESET ROLE;
SELECT to_regclass('sec_wh.own_dim') IS NULL AS not_created;
GRANT CREATE ON SCHEMA sec_wh TO regress_sec_etl;
SET ROLE regress_sec_etl;
SELECT * FROM pypeline.process_etl('sec_own', 'dimension');
RESET ROLE;

-- The superuser's refresh runs every ETL, each as its owner: the role's
-- table stays the role's, the run log says who ran it and whose rights it had.
SELECT * FROM pypeline.refresh_data_warehouse(true, true, true);
SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'sec_wh' ORDER BY 1;
\! bash regress/mysql-exec.sh -e "INSERT INTO sec_items VALUES (4, 'four', '2020-01-01'); UPDATE sec_items SET name = 'uno' WHERE id = 1; INSERT INTO sec_sales VALUES (13, 4, 9)"
SELECT * FROM pypeline.refresh_data_warehouse(true, true, false);
SELECT sec_item_key, id, name FROM sec_wh.item_dim ORDER BY sec_item_key;
SELECT id, sec_item_key, amount FROM sec_wh.sale_fact ORDER BY id;
SELECT sec_wait_failures('sec_own', 4) AS own_failures, sec_wait_failures('sec_item', 2) AS item_failures;
SELECT etl_name, status, message, run_by, owner, count(*) FROM pypeline.run_log
WHERE etl_name LIKE 'sec%' GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2 DESC, 3, 4;

-- The role sees the run log of its own ETLs only.
SET ROLE regress_sec_etl;
SELECT etl_name, status, count(*) FROM pypeline.run_log GROUP BY 1, 2 ORDER BY 1, 2;
RESET ROLE;

-- A role without the owner's rights cannot change, switch off or drop an
-- ETL, nor write pypeline's tables: watermarks (rows would be skipped or
-- loaded twice), run-log rows in another's name, tasks.
CREATE ROLE regress_sec_intruder LOGIN;
SET ROLE regress_sec_intruder;
SELECT sec_try($$SELECT pypeline.define_dimension('sec_own', 'regress_mysql', 'SELECT 1 AS id', 'own_dim', natural_key => '{id}')$$);
SELECT sec_try($$SELECT pypeline.set_active('sec_item', 'dimension', false)$$);
SELECT sec_try($$SELECT pypeline.drop_etl('sec_own', 'dimension')$$);
SELECT sec_try($$UPDATE pypeline.dimension SET source_sql = 'SELECT 1 AS id' WHERE name = 'sec_item'$$);
SELECT sec_try($$UPDATE pypeline.watermark SET value = '999999' WHERE etl_name = 'sec_sale'$$);
SELECT sec_try($$DELETE FROM pypeline.watermark WHERE etl_name = 'sec_sale'$$);
SELECT sec_try($$INSERT INTO pypeline.run_log (etl_type, etl_name, target, started_at, finished_at, status, message, run_by, owner)
	VALUES ('fact', 'sec_sale', 'sec_wh.sale_fact', now(), now(), 'success', 'forged', 'postgres', 'postgres')$$);
SELECT sec_try($$INSERT INTO pypeline.task (what, arguments, submitted_by) VALUES ('process_etl', '{}', 'regress_sec_intruder')$$);
SELECT sec_try($$LOCK pypeline.watermark$$);
SELECT sec_try($$LOCK pypeline.task IN ROW EXCLUSIVE MODE$$);
SELECT count(*) AS run_log_rows_seen, (SELECT count(*) FROM pypeline.watermark) AS watermarks_seen FROM pypeline.run_log;
RESET ROLE;
SELECT etl_type, etl_name, value FROM pypeline.watermark WHERE etl_name LIKE 'sec%' ORDER BY 1, 2;
SELECT name, source_sql, active FROM pypeline.dimension WHERE name LIKE 'sec%' ORDER BY name;

-- A role granted the owner's role has its rights: it may run and change the ETL.
GRANT regress_sec_etl TO regress_sec_intruder;
SET ROLE regress_sec_intruder;
SELECT * FROM pypeline.process_etl('sec_own', 'dimension');
SELECT pypeline.set_active('sec_own', 'dimension', false);
RESET ROLE;
SELECT name, owner, active FROM pypeline.dimension WHERE name = 'sec_own';
REVOKE regress_sec_etl FROM regress_sec_intruder;

-- TRIGGER privilege on an ETL's table lets another role add a trigger; a
-- load would run the trigger's function with the owner's rights, so loads
-- refuse the table until the trigger goes.
GRANT USAGE, CREATE ON SCHEMA sec_wh TO regress_sec_intruder;
GRANT TRIGGER ON sec_wh.item_dim TO regress_sec_intruder;
SET ROLE regress_sec_intruder;
CREATE FUNCTION sec_wh.sec_borrow_rights() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'running as %', current_user;
	RETURN NULL;
END $$;
CREATE TRIGGER sec_borrow_rights AFTER INSERT OR UPDATE ON sec_wh.item_dim
	FOR EACH STATEMENT EXECUTE FUNCTION sec_wh.sec_borrow_rights();
RESET ROLE;
SELECT sec_try($$SELECT * FROM pypeline.process_etl('sec_item', 'dimension')$$);
SELECT sec_try($$SELECT * FROM pypeline.refresh_data_warehouse(true, true, true)$$);
DROP TRIGGER sec_borrow_rights ON sec_wh.item_dim;
DROP FUNCTION sec_wh.sec_borrow_rights();
REVOKE TRIGGER ON sec_wh.item_dim FROM regress_sec_intruder;
REVOKE USAGE, CREATE ON SCHEMA sec_wh FROM regress_sec_intruder;
SELECT rows FROM pypeline.process_etl('sec_item', 'dimension');

-- Passwords: a working and a wrong one, through synchronous and asynchronous
-- runs, successes and failures; neither shows anywhere.
DO $$
BEGIN
	EXECUTE format('CREATE SERVER sec_good FOREIGN DATA WRAPPER pypeline_mysql OPTIONS (host %L, port %L, dbname %L)',
	               '127.0.0.1', current_setting('pypeline_regress.mysql_port'), 'pypeline_regress');
	EXECUTE format('CREATE SERVER sec_bad FOREIGN DATA WRAPPER pypeline_mysql OPTIONS (host %L, port %L, dbname %L)',
	               '127.0.0.1', current_setting('pypeline_regress.mysql_port'), 'pypeline_regress');
END $$;
CREATE USER MAPPING FOR CURRENT_USER SERVER sec_good OPTIONS (username 'sec_user', password 'G00d-SENTINEL-pw');
CREATE USER MAPPING FOR CURRENT_USER SERVER sec_bad OPTIONS (username 'sec_user', password 'Wr0ng-SENTINEL-pw');
SELECT pypeline.define_dimension('sec_pw_good', 'sec_good', 'SELECT id, name FROM sec_items',
	'sec_wh.pw_good_dim', natural_key => '{id}', active => false);
SELECT pypeline.define_dimension('sec_pw_bad', 'sec_bad', 'SELECT id, name FROM sec_items',
	'sec_wh.pw_bad_dim', natural_key => '{id}', active => false);
SELECT * FROM pypeline.process_etl('sec_pw_good', 'dimension');
SELECT * FROM pypeline.process_etl('sec_pw_bad', 'dimension');
DO $$
DECLARE
	message text;
	detail text;
	hint text;
	context text;
BEGIN
	PERFORM pypeline.process_etl('sec_pw_bad', 'dimension');
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL,
		hint = PG_EXCEPTION_HINT, context = PG_EXCEPTION_CONTEXT;
	RAISE NOTICE 'SQLSTATE %, access denied: %, password in the error: %', SQLSTATE,
		detail LIKE '%Access denied%', concat(message, detail, hint, context) LIKE '%SENTINEL%';
END $$;
SELECT pypeline.process_etl_async('sec_pw_good', 'dimension') AS good_task \gset
SELECT pypeline.process_etl_async('sec_pw_bad', 'dimension') AS bad_task \gset
SELECT pypeline.wait(:good_task, '60 seconds') AS good, pypeline.wait(:bad_task, '60 seconds') AS bad;
SELECT sec_wait_failures('sec_pw_bad', 3) AS failures_logged;
SELECT etl_name, status, message FROM pypeline.run_log WHERE etl_name LIKE 'sec_pw%'
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
SELECT state, error FROM pypeline.task WHERE id IN (:good_task, :bad_task) ORDER BY id;
SELECT (SELECT count(*) FROM pypeline.run_log r WHERE r::text LIKE '%SENTINEL%') AS run_log,
       (SELECT count(*) FROM pypeline.task t WHERE t::text LIKE '%SENTINEL%') AS task,
       (SELECT count(*) FROM pypeline.etls e WHERE e::text LIKE '%SENTINEL%') AS etls,
       (SELECT count(*) FROM pypeline.dimension d WHERE d::text LIKE '%SENTINEL%') AS dimension,
       (SELECT count(*) FROM pypeline.reject j WHERE j::text LIKE '%SENTINEL%') AS reject;

-- A source query runs only if it reads: statements that write are refused
-- before they reach MySQL, a second statement is not run, a locking read is
-- refused by the read-only transaction; test_dimension_source reports each.
SELECT pypeline.define_dimension('sec_write_delete', 'regress_mysql', 'DELETE FROM sec_items',
	'sec_wh.write_dim', natural_key => '{id}');
SELECT pypeline.define_dimension('sec_write_drop', 'regress_mysql', '/* items */ DROP TABLE sec_items',
	'sec_wh.write_dim', natural_key => '{id}');
SELECT pypeline.define_dimension('sec_write_second', 'regress_mysql', 'SELECT 1 AS id; DELETE FROM sec_items',
	'sec_wh.write_dim', natural_key => '{id}');
SELECT pypeline.define_dimension('sec_write_lock', 'regress_mysql', 'SELECT id FROM sec_items FOR UPDATE',
	'sec_wh.write_dim', natural_key => '{id}');
SELECT pypeline.define_dimension('sec_write_comment', 'regress_mysql',
	'SELECT 1 AS id /*!, (SELECT 1 FROM sec_items FOR UPDATE) AS x */', 'sec_wh.write_dim', natural_key => '{id}');
SELECT pypeline.define_dimension('sec_write_mcomment', 'regress_mysql',
	'/*M! DELETE FROM sec_items; */ SELECT 1 AS id', 'sec_wh.write_dim', natural_key => '{id}');
SELECT pypeline.define_dimension('sec_write_outfile', 'regress_mysql',
	$q$SELECT id FROM sec_items INTO OUTFILE '/tmp/pypeline_sec_items'$q$, 'sec_wh.write_dim', natural_key => '{id}');
-- a backslash escapes a quote only without NO_BACKSLASH_ESCAPES: both readings are checked
SELECT pypeline.define_dimension('sec_write_escape', 'regress_mysql',
	$q$SELECT 'a\' AS id; DELETE FROM sec_items; -- '$q$, 'sec_wh.write_dim', natural_key => '{id}');
-- a fact's source is described when it is defined: refused already then
SELECT pypeline.define_fact('sec_write_fact', 'regress_mysql',
	'UPDATE sec_sales SET amount = 0', 'sec_wh.write_fact', measures => '{amount}');
SELECT * FROM pypeline.process_etl('sec_write_delete', 'dimension');
SELECT * FROM pypeline.process_etl('sec_write_drop', 'dimension');
SELECT * FROM pypeline.process_etl('sec_write_second', 'dimension');
SELECT * FROM pypeline.process_etl('sec_write_lock', 'dimension');
SELECT * FROM pypeline.process_etl('sec_write_comment', 'dimension');
SELECT * FROM pypeline.process_etl('sec_write_mcomment', 'dimension');
SELECT * FROM pypeline.process_etl('sec_write_outfile', 'dimension');
SELECT * FROM pypeline.process_etl('sec_write_escape', 'dimension');
-- the same marks inside a string are only text
SELECT * FROM pypeline.query('regress_mysql', $q$SELECT 1 AS id, '/*! x */; INTO OUTFILE' AS text$q$) AS t(id int, text text);
SELECT etl_name, status, regexp_replace(message, '(MySQL error [0-9]+).*', '\1') AS message
FROM pypeline.test_dimension_source() WHERE etl_name LIKE 'sec_write%' ORDER BY etl_name;
SELECT to_regclass('sec_wh.write_dim') IS NULL AND to_regclass('sec_wh.write_fact') IS NULL AS nothing_created;
\! bash regress/mysql-exec.sh -N -e "SELECT COUNT(*), SUM(amount) FROM sec_items JOIN sec_sales ON sec_sales.item_id = sec_items.id"

-- No SQL injection through names: a target, surrogate key and source column
-- names full of quotes, semicolons and comment marks, an ETL name with a
-- quote, names with format directives; they are taken literally.
CREATE TABLE sec_victim (x int);
SELECT pypeline.define_dimension('sec_evil''); DROP TABLE sec_victim; --', 'regress_mysql',
	$q$SELECT id AS `key"; DROP TABLE sec_victim; --`, name AS `a"; DROP TABLE sec_victim; --`,
	          name AS `b')); DROP TABLE sec_victim; --`, name AS `%s%n pct`, id AS `back``tick`,
	          updated_at AS `changed"at` FROM sec_items$q$,
	'sec_wh."Evil""; DROP TABLE sec_victim; --"', natural_key => '{"key\"; DROP TABLE sec_victim; --"}',
	surrogate_key => 'sk"; DROP TABLE sec_victim; --', scd_type => 2,
	type1_columns => '{"b'')); DROP TABLE sec_victim; --"}', change_date_column => 'changed"at');
SELECT pypeline.define_fact('sec_evil_fact', 'regress_mysql',
	$q$SELECT id AS `ord"; DROP TABLE sec_victim; --`, item_id AS `item');--`, amount AS `Amount %s%n` FROM sec_sales$q$,
	'sec_wh."Evil Fact""; DROP TABLE sec_victim; --"',
	lookups => $j${"sec_evil'); DROP TABLE sec_victim; --": "item');--"}$j$, measures => '{"Amount %s%n"}',
	degenerate_columns => '{"ord\"; DROP TABLE sec_victim; --"}',
	incremental_column => 'ord"; DROP TABLE sec_victim; --');
SELECT pypeline.define_fact('sec_evil_target', 'regress_mysql', 'SELECT 1 AS x', 'sale_fact; DROP TABLE sec_victim');
SELECT * FROM pypeline.process_etl('sec_evil''); DROP TABLE sec_victim; --', 'dimension');
SELECT * FROM pypeline.process_etl('sec_evil_fact', 'fact');
\! bash regress/mysql-exec.sh -e "UPDATE sec_items SET name = 'dos', updated_at = '2021-01-01' WHERE id = 2; INSERT INTO sec_sales VALUES (14, 2, 3)"
SELECT * FROM pypeline.process_etl('sec_evil''); DROP TABLE sec_victim; --', 'dimension');
SELECT * FROM pypeline.process_etl('sec_evil_fact', 'fact');
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'sec_wh."Evil""; DROP TABLE sec_victim; --"'::regclass AND attnum > 0 AND NOT attisdropped
ORDER BY attnum;
SELECT "key""; DROP TABLE sec_victim; --" AS key, "a""; DROP TABLE sec_victim; --" AS a,
       "b')); DROP TABLE sec_victim; --" AS b, "%s%n pct" AS pct, "back`tick" AS backtick, version, is_current
FROM sec_wh."Evil""; DROP TABLE sec_victim; --" ORDER BY 1, version;
SELECT f."ord""; DROP TABLE sec_victim; --" AS ord, d."key""; DROP TABLE sec_victim; --" AS item,
       d.version, f."Amount %s%n" AS amount
FROM sec_wh."Evil Fact""; DROP TABLE sec_victim; --" f
JOIN sec_wh."Evil""; DROP TABLE sec_victim; --" d USING ("sk""; DROP TABLE sec_victim; --")
ORDER BY 1;
SELECT etl_type, etl_name, value FROM pypeline.watermark WHERE etl_name = 'sec_evil_fact';
SELECT to_regclass('sec_victim') AS victim_still_there;

-- No SQL injection through source values either: an incremental fact whose
-- watermark is a string with a quote and a comment mark reads nothing new,
-- also when MySQL does not treat backslashes as escapes (NO_BACKSLASH_ESCAPES).
SELECT pypeline.define_fact('sec_code', 'regress_mysql', 'SELECT code, amount FROM sec_codes',
	'sec_wh.code_fact', measures => '{amount}', degenerate_columns => '{code}', incremental_column => 'code');
SELECT * FROM pypeline.process_etl('sec_code', 'fact');
SELECT etl_type, etl_name, value FROM pypeline.watermark WHERE etl_name = 'sec_code';
SELECT * FROM pypeline.process_etl('sec_code', 'fact');
\! bash regress/mysql-exec.sh -e "SET GLOBAL sql_mode = CONCAT(@@global.sql_mode, ',NO_BACKSLASH_ESCAPES')"
SELECT * FROM pypeline.process_etl('sec_code', 'fact');
\! bash regress/mysql-exec.sh -N -e "SET GLOBAL sql_mode = REPLACE(REPLACE(@@global.sql_mode, 'NO_BACKSLASH_ESCAPES,', ''), ',NO_BACKSLASH_ESCAPES', ''); SELECT @@global.sql_mode LIKE '%NO_BACKSLASH_ESCAPES%' AS still_set"
SELECT code, count(*) FROM sec_wh.code_fact GROUP BY code ORDER BY code;

-- clean up
DROP SCHEMA sec_wh CASCADE;
DROP TABLE sec_victim;
DELETE FROM pypeline.fact WHERE name LIKE 'sec%';
DELETE FROM pypeline.dimension WHERE name LIKE 'sec%';
DELETE FROM pypeline.run_log WHERE etl_name LIKE 'sec%';
DELETE FROM pypeline.task WHERE id IN (:task, :good_task, :bad_task);
DELETE FROM pypeline.reject WHERE etl_name LIKE 'sec%';
DROP SERVER sec_good, sec_bad CASCADE;
DROP USER MAPPING FOR regress_sec_etl SERVER regress_mysql;
REVOKE USAGE ON FOREIGN SERVER regress_mysql FROM regress_sec_etl;
DROP ROLE regress_sec_etl, regress_sec_intruder;
DROP FUNCTION sec_try(text), sec_wait_failures(text, int);
\! bash regress/mysql-exec.sh -e "DROP TABLE sec_items, sec_sales, sec_codes; DROP USER sec_user@'%', sec_user@localhost"
