-- Dimensions captured from the binary log (capture => 'binlog'): the first
-- run loads a consistent snapshot and stores its log coordinates with the
-- rows; later runs apply the row changes since then (doc/design.md, "Change
-- data capture").  The model is the same source loaded without capture:
-- after every run the current rows of both must be equal, every column of
-- every type included, so the row-image decoder is checked against the text
-- protocol.  What only the log knows (two updates between runs, the times
-- of changes) is checked on its own.

-- the capture task below must not move the task ids later tests show
SELECT last_value AS task_seq, is_called AS task_seq_called FROM pypeline.task_id_seq \gset
\! bash regress/mysql-exec.sh -e "CREATE USER binlog_reader@'%' IDENTIFIED BY 'binlog_secret'; GRANT SELECT ON pypeline_regress.* TO binlog_reader@'%'; GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO binlog_reader@'%'"
DO $$ BEGIN
	EXECUTE format('CREATE SERVER binlog_mysql FOREIGN DATA WRAPPER pypeline_mysql
	                OPTIONS (host %L, port %L, dbname %L)',
	               '127.0.0.1', current_setting('pypeline_regress.mysql_port'), 'pypeline_regress');
END $$;
CREATE USER MAPPING FOR CURRENT_USER SERVER binlog_mysql
	OPTIONS (username 'binlog_reader', password 'binlog_secret');

-- every column type the decoder reads, with edge values and NULLs
\! bash regress/mysql-exec.sh -e "CREATE TABLE bl_item (id INT PRIMARY KEY, i INT, si SMALLINT, mi MEDIUMINT, ti TINYINT UNSIGNED, u BIGINT UNSIGNED, big BIGINT, d DECIMAL(12,4), wide DECIMAL(30,10), f FLOAT, dbl DOUBLE, flag TINYINT(1), dd DATE, dt DATETIME, dt3 DATETIME(3), ts TIMESTAMP(6) NULL DEFAULT NULL, t TIME(2), y YEAR, v VARCHAR(30), lat VARCHAR(10) CHARACTER SET latin1, c CHAR(4), bin BINARY(3), bl BLOB, tx TEXT, e ENUM('red','green','blue'), st SET('a','b','c'), j JSON, b BIT(5), b1 BIT(1)) CHARACTER SET utf8mb4; INSERT INTO bl_item VALUES (1, -2147483648, -32768, -8388608, 255, 18446744073709551615, -9223372036854775808, -12345678.1234, 12345678901234567890.0123456789, 1.5, -2.25e-300, 1, '2024-02-29', '1999-12-31 23:59:59', '2000-01-01 00:00:00.123', '2038-01-19 03:14:07.999999', '-838:59:59.00', 2155, 'héllo wörld', 'café', 'ab', 'xy', 0x00FF10, 'long text', 'green', 'a,c', '{\"k\": [1, 2]}', b'10101', b'1'), (2, 2147483647, 32767, 8388607, 0, 0, 9223372036854775807, 0.0001, -0.0000000001, -0.5, 1e300, 0, '1000-01-01', '9999-12-31 23:59:59', '2024-06-01 12:00:00.5', '1970-01-01 00:00:01', '12:34:56.78', 1901, '', '', '', '', '', '', 'red', '', '[]', b'0', b'0'), (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), (4, 7, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, '2020-01-01', '2020-01-01', '2020-01-01', '2020-01-01', '00:00:00', 2020, 'four', 'x', 'four', 'abc', 'x', 'x', 'blue', '', '{}', b'11111', b'1')"
\set columns 'i, si, mi, ti, u, big, d, wide, f, dbl, flag, dd, dt, dt3, ts, t, y, v, lat, c, bin, bl, tx, e, st, j, b, b1'
SELECT pypeline.define_dimension('bl_cap', 'binlog_mysql',
	'SELECT id AS item_id, ' || :'columns' || ' FROM bl_item', 'bl_cap_dim',
	natural_key => '{item_id}', scd_type => 2, deletes => 'invalidate', max_closed_fraction => 1,
	capture => 'binlog');
SELECT pypeline.define_dimension('bl_ref', 'binlog_mysql',
	'SELECT id AS item_id, ' || :'columns' || ' FROM bl_item', 'bl_ref_dim',
	natural_key => '{item_id}', scd_type => 2, deletes => 'invalidate', max_closed_fraction => 1);
SELECT pypeline.define_dimension('bl_cap1', 'binlog_mysql',
	'SELECT id AS item_id, ' || :'columns' || ' FROM bl_item', 'bl_cap1_dim',
	natural_key => '{item_id}', capture => 'binlog');

-- current rows of the captured dimensions that the model lacks, and the reverse
-- a run's error, with the log's coordinates masked (they depend on what ran before)
CREATE FUNCTION bl_error(etl text) RETURNS TABLE (code text, message text, detail text, hint text)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pypeline.process_etl(etl, 'dimension');
	RETURN QUERY SELECT NULL::text, 'no error', NULL::text, NULL::text;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
	                        detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
	RETURN QUERY SELECT code, regexp_replace(message, 'binlog\.[0-9]+:[0-9]+', 'binlog.N:P', 'g'), detail, hint;
END $$;
SET check_function_bodies = off;
CREATE FUNCTION bl_differences() RETURNS TABLE (etl text, side text, item_id int) LANGUAGE sql AS $$
	SELECT 'bl_cap', 'captured only', item_id FROM (
		SELECT item_id, i, si, mi, ti, u, big, d, wide, f, dbl, flag, dd, dt, dt3, ts, t, y, v, lat, c, bin, bl, tx, e, st, j::text, b, b1 FROM bl_cap_dim WHERE is_current
		EXCEPT SELECT item_id, i, si, mi, ti, u, big, d, wide, f, dbl, flag, dd, dt, dt3, ts, t, y, v, lat, c, bin, bl, tx, e, st, j::text, b, b1 FROM bl_ref_dim WHERE is_current) x
	UNION ALL
	SELECT 'bl_cap', 'model only', item_id FROM (
		SELECT item_id, i, si, mi, ti, u, big, d, wide, f, dbl, flag, dd, dt, dt3, ts, t, y, v, lat, c, bin, bl, tx, e, st, j::text, b, b1 FROM bl_ref_dim WHERE is_current
		EXCEPT SELECT item_id, i, si, mi, ti, u, big, d, wide, f, dbl, flag, dd, dt, dt3, ts, t, y, v, lat, c, bin, bl, tx, e, st, j::text, b, b1 FROM bl_cap_dim WHERE is_current) x
	UNION ALL
	-- type 1 keeps deleted members (deletes => 'ignore'): the model's latest version of each
	SELECT 'bl_cap1', 'captured only', item_id FROM (
		SELECT item_id, i, si, mi, ti, u, big, d, wide, f, dbl, flag, dd, dt, dt3, ts, t, y, v, lat, c, bin, bl, tx, e, st, j::text, b, b1 FROM bl_cap1_dim WHERE item_id NOT IN (-1, 99)
		EXCEPT SELECT item_id, i, si, mi, ti, u, big, d, wide, f, dbl, flag, dd, dt, dt3, ts, t, y, v, lat, c, bin, bl, tx, e, st, j::text, b, b1 FROM bl_ref_latest) x
	UNION ALL
	SELECT 'bl_cap1', 'model only', item_id FROM (
		SELECT item_id, i, si, mi, ti, u, big, d, wide, f, dbl, flag, dd, dt, dt3, ts, t, y, v, lat, c, bin, bl, tx, e, st, j::text, b, b1 FROM bl_ref_latest WHERE item_id <> -1
		EXCEPT SELECT item_id, i, si, mi, ti, u, big, d, wide, f, dbl, flag, dd, dt, dt3, ts, t, y, v, lat, c, bin, bl, tx, e, st, j::text, b, b1 FROM bl_cap1_dim) x
	ORDER BY 1, 2, 3
$$;
CREATE FUNCTION bl_run_all() RETURNS TABLE (etl text, rows_read bigint, invariant text) LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pypeline.process_etl('bl_ref', 'dimension');
	IF to_regclass('bl_ref_latest') IS NULL THEN
		CREATE VIEW bl_ref_latest AS SELECT DISTINCT ON (item_id) * FROM bl_ref_dim ORDER BY item_id, version DESC;
	END IF;
	PERFORM pypeline.process_etl('bl_cap', 'dimension');
	PERFORM pypeline.process_etl('bl_cap1', 'dimension');
	RETURN QUERY SELECT l.etl_name, l.rows_read, NULL::text FROM pypeline.run_log l
		WHERE l.etl_name IN ('bl_cap', 'bl_cap1') AND l.id > (SELECT coalesce(max(id), 0) - 2 FROM pypeline.run_log)
		UNION ALL SELECT n, NULL, c.invariant FROM unnest(ARRAY['bl_cap', 'bl_cap1']) n, pypeline.check_dimension(n) c
		ORDER BY 1, 3;
END $$;
RESET check_function_bodies;

-- the snapshot: the coordinates are stored with the rows
SELECT * FROM bl_run_all();
SELECT etl_name, value ~ '^binlog\.[0-9]+:[0-9]+$' AS coordinates FROM pypeline.watermark WHERE etl_name LIKE 'bl_cap%' ORDER BY 1;
SELECT * FROM bl_differences();

-- nothing changed: nothing read
SELECT * FROM bl_run_all();

-- inserts, two updates of one member, a delete, a new key, a rolled-back
-- transaction, a row inserted and deleted between two runs
\! bash regress/mysql-exec.sh -e "INSERT INTO bl_item (id, v, e) VALUES (5, 'five', 'red'); UPDATE bl_item SET v = 'first change', d = 1.5 WHERE id = 1; UPDATE bl_item SET v = 'second change', ts = '2001-02-03 04:05:06.5' WHERE id = 1; DELETE FROM bl_item WHERE id = 2; UPDATE bl_item SET id = 40, y = 0 WHERE id = 4; START TRANSACTION; UPDATE bl_item SET v = 'rolled back' WHERE id = 3; ROLLBACK; INSERT INTO bl_item (id) VALUES (99); DELETE FROM bl_item WHERE id = 99; UPDATE bl_item SET i = i + 1 WHERE id = 3"
SELECT * FROM bl_run_all();
SELECT * FROM bl_differences();
-- the log saw both updates of member 1: two versions, each starting when its
-- change was made, where the snapshot model has one
SELECT c.version, c.v, c.is_current, c.valid_from >= date_trunc('second', w.defined_at) AS changed_after_definition,
       c.valid_to = lead(c.valid_from) OVER (ORDER BY c.version) AS contiguous
FROM bl_cap_dim c, (SELECT min(defined_at) AS defined_at FROM pypeline.dimension WHERE name LIKE 'bl_%') w
WHERE c.item_id = 1 ORDER BY c.version;
SELECT count(*) AS model_versions FROM bl_ref_dim WHERE item_id = 1;
-- the deleted member and the old key are closed; the row inserted and deleted
-- between runs was a member for a moment; the rolled-back update left nothing
SELECT item_id, count(*) AS versions, bool_or(is_current) AS current FROM bl_cap_dim
WHERE item_id IN (2, 3, 4, 40, 99) GROUP BY item_id ORDER BY item_id;
SELECT message FROM pypeline.run_log WHERE etl_name = 'bl_cap1' ORDER BY id DESC LIMIT 1;

-- a worker follows the log: start_capture returns the running task when there is one
SELECT pypeline.start_capture('bl_cap', every => '50 milliseconds') AS capture_task \gset
SELECT pypeline.start_capture('bl_cap') = :capture_task AS same_task;
\! bash regress/mysql-exec.sh -e "UPDATE bl_item SET v = 'seen by the worker' WHERE id = 1"
DO $$ BEGIN
	FOR i IN 1..600 LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM bl_cap_dim WHERE item_id = 1 AND is_current AND v = 'seen by the worker');
		PERFORM pg_sleep(0.05);
	END LOOP;
END $$;
SELECT version, v FROM bl_cap_dim WHERE item_id = 1 AND is_current;
SELECT etl_type, etl_name, state, runs > 0 AS ran, changes_applied AS changes, last_error,
       binlog_position ~ '^binlog\.[0-9]+:[0-9]+@[0-9]+$' AS has_position, lag < interval '1 minute' AS recent
FROM pypeline.capture_status;
-- a run that finds nothing writes no run-log row: capture_status says when it last looked
SELECT count(*) AS rows_of_empty_runs FROM pypeline.run_log WHERE etl_name = 'bl_cap' AND rows_read = 0 AND started_at > now() - interval '1 minute';
-- another role sees no one else's capture and cannot stop it
CREATE ROLE regress_capture_other;
SET ROLE regress_capture_other;
SELECT count(*) AS captures_seen FROM pypeline.capture_status;
SELECT pypeline.stop_capture('bl_cap') AS stopped_by_other;
SELECT pypeline.start_capture('bl_cap');
RESET ROLE;
DROP ROLE regress_capture_other;
SELECT pypeline.stop_capture('bl_cap');
SELECT pypeline.wait(:capture_task, '60 seconds');
SELECT state, worker_pid IS NOT NULL AS had_worker FROM pypeline.capture_status WHERE etl_name = 'bl_cap';
SELECT pypeline.stop_capture('bl_cap') AS stopped_again;
SELECT pypeline.start_capture('bl_ref');
SELECT pypeline.start_capture('bl_cap', 'fact');
SELECT pypeline.start_capture('bl_cap', every => '1 microsecond');
SELECT pypeline.start_capture(NULL);

-- a captured source is one table's columns
SELECT pypeline.define_dimension('bl_bad', 'binlog_mysql', 'SELECT id FROM bl_item WHERE id > 1', 'bl_bad_dim',
	natural_key => '{id}', capture => 'binlog');
SELECT pypeline.define_dimension('bl_bad', 'binlog_mysql', 'SELECT i.id FROM bl_item i JOIN bl_item j USING (id)', 'bl_bad_dim',
	natural_key => '{id}', capture => 'binlog');
SELECT pypeline.define_dimension('bl_bad', 'binlog_mysql', 'SELECT id, UPPER(v) AS v FROM bl_item', 'bl_bad_dim',
	natural_key => '{id}', capture => 'binlog');
SELECT * FROM pypeline.process_etl('bl_bad', 'dimension');
SELECT pypeline.define_dimension('bl_bad', 'binlog_mysql', 'SELECT id, v FROM bl_item', 'bl_bad_dim',
	natural_key => '{id}', capture => 'binlog', incremental_column => 'id');
SELECT pypeline.define_dimension('bl_bad', 'binlog_mysql', 'SELECT id, v FROM bl_item', 'bl_bad_dim',
	natural_key => '{id}', capture => 'kafka');
SELECT pypeline.drop_etl('bl_bad', 'dimension');

-- the log's checksums switched off and on again (each switch starts a file: the
-- rotates are written with and without one), a latin1 byte MySQL maps to U+0081,
-- statements on a table whose name contains this one's (no false stop)
\! bash regress/mysql-exec.sh -e "UPDATE bl_item SET lat = X'6181' WHERE id = 1; SET GLOBAL binlog_checksum = 'NONE'; UPDATE bl_item SET v = 'no checksum' WHERE id = 40; CREATE TABLE bl_item_archive (id INT); ALTER TABLE bl_item_archive ADD COLUMN x INT; DROP TABLE bl_item_archive; SET GLOBAL binlog_checksum = 'CRC32'; UPDATE bl_item SET v = 'checksum again' WHERE id = 5"
SELECT * FROM bl_run_all();
SELECT * FROM bl_differences();
SELECT item_id, v, encode(convert_to(lat, 'UTF8'), 'hex') AS lat FROM bl_cap_dim WHERE is_current AND item_id IN (1, 5, 40) ORDER BY 1;

-- a change of the table's columns stops the run: the log's older rows no longer say which value is which
\! bash regress/mysql-exec.sh -e "UPDATE bl_item SET v = 'before alter' WHERE id = 1; ALTER TABLE bl_item ADD COLUMN extra INT"
\x on
SELECT * FROM bl_error('bl_cap');
\x off
-- the re-snapshot starts over from the table as it is
SELECT etl_type, etl_name, rows FROM pypeline.process_etl('bl_cap', 'dimension', delete_existing_table => true);
\! bash regress/mysql-exec.sh -e "ALTER TABLE bl_item DROP COLUMN extra"
SELECT etl_type, etl_name, rows FROM pypeline.process_etl('bl_cap', 'dimension', delete_existing_table => true);
-- a statement on the table stops the run even after a comment
\! bash regress/mysql-exec.sh -e "/* keep the table tidy */ ALTER TABLE bl_item COMMENT = 'items'"
\x on
SELECT * FROM bl_error('bl_cap');
\x off
SELECT etl_type, etl_name, rows FROM pypeline.process_etl('bl_cap', 'dimension', delete_existing_table => true);

-- a position the log no longer has (purged) is a clear error, never a silent gap
UPDATE pypeline.watermark SET value = 'binlog.000000:4' WHERE etl_name = 'bl_cap';
SELECT * FROM pypeline.process_etl('bl_cap', 'dimension');
-- so is a log reset since the last run
SELECT etl_type, etl_name, rows FROM pypeline.process_etl('bl_cap', 'dimension', delete_existing_table => true);
\! bash regress/mysql-exec.sh -e "UPDATE bl_item SET v = 'lost' WHERE id = 1; RESET MASTER"
\x on
SELECT * FROM bl_error('bl_cap');
\x off
SELECT v FROM bl_cap_dim WHERE item_id = 1 AND is_current;

-- an account that may not read the log is refused before its snapshot, with what to grant
SELECT pypeline.define_dimension('bl_noright', 'regress_mysql', 'SELECT id, v FROM bl_item', 'bl_noright_dim',
	natural_key => '{id}', capture => 'binlog');
SELECT * FROM pypeline.process_etl('bl_noright', 'dimension');
SELECT to_regclass('bl_noright_dim') AS no_table;
SELECT pypeline.drop_etl('bl_noright', 'dimension');

-- facts: a fact without key_columns is appended to from the log; an
-- accumulating fact (key_columns) takes each key's last row and its deletes.
-- The model of the accumulating one is the same source read whole.
\! bash regress/mysql-exec.sh -e "CREATE TABLE bl_sale (id INT PRIMARY KEY, item INT, amount DECIMAL(8,2), status VARCHAR(10)); INSERT INTO bl_sale VALUES (1, 10, 1.50, 'new'), (2, 20, 2.50, 'new'), (3, 30, 3.50, 'paid')"
SELECT pypeline.define_fact('bl_sales', 'binlog_mysql', 'SELECT id, item, amount FROM bl_sale', 'bl_sales_fact',
	measures => '{amount}', degenerate_columns => '{id, item}', capture => 'binlog');
SELECT pypeline.define_fact('bl_orders', 'binlog_mysql', 'SELECT id, status, amount FROM bl_sale', 'bl_orders_fact',
	measures => '{amount}', degenerate_columns => '{status}', key_columns => '{id}', deletes => 'delete',
	max_deleted_fraction => 1, capture => 'binlog');
SELECT pypeline.define_fact('bl_orders_ref', 'binlog_mysql', 'SELECT id, status, amount FROM bl_sale', 'bl_orders_ref_fact',
	measures => '{amount}', degenerate_columns => '{status}', key_columns => '{id}', deletes => 'delete',
	max_deleted_fraction => 1);
SELECT etl_name, rows FROM pypeline.process_etl('bl_sales', 'fact')
UNION ALL SELECT etl_name, rows FROM pypeline.process_etl('bl_orders', 'fact')
UNION ALL SELECT etl_name, rows FROM pypeline.process_etl('bl_orders_ref', 'fact');
\! bash regress/mysql-exec.sh -e "INSERT INTO bl_sale VALUES (4, 40, 4.50, 'new'), (5, 50, 5.50, 'new'); UPDATE bl_sale SET status = 'paid', amount = 2.75 WHERE id = 2; UPDATE bl_sale SET status = 'shipped' WHERE id = 2; DELETE FROM bl_sale WHERE id = 1; UPDATE bl_sale SET id = 33 WHERE id = 3"
SELECT etl_name, rows FROM pypeline.process_etl('bl_sales', 'fact')
UNION ALL SELECT etl_name, rows FROM pypeline.process_etl('bl_orders', 'fact')
UNION ALL SELECT etl_name, rows FROM pypeline.process_etl('bl_orders_ref', 'fact');
-- appended: the snapshot's rows and the two inserted, once each; what it could not apply is counted
SELECT id, item, amount FROM bl_sales_fact ORDER BY id;
SELECT rows_read, rows_inserted, message FROM pypeline.run_log WHERE etl_name = 'bl_sales' ORDER BY id DESC LIMIT 1;
-- the accumulating fact is its model
SELECT id, status, amount FROM bl_orders_fact EXCEPT SELECT id, status, amount FROM bl_orders_ref_fact
UNION ALL
SELECT id, status, amount FROM bl_orders_ref_fact EXCEPT SELECT id, status, amount FROM bl_orders_fact;
SELECT id, status, amount FROM bl_orders_fact ORDER BY id;
SELECT rows_inserted, rows_updated, rows_deleted FROM pypeline.run_log WHERE etl_name = 'bl_orders' ORDER BY id DESC LIMIT 1;
-- nothing new: no row appended twice
SELECT rows FROM pypeline.process_etl('bl_sales', 'fact');
SELECT count(*) AS sales FROM bl_sales_fact;
-- a captured fact is a transaction or an accumulating fact
SELECT pypeline.define_fact('bl_bad', 'binlog_mysql', 'SELECT id, amount FROM bl_sale', 'bl_bad_fact',
	snapshot_column => 'id', capture => 'binlog');
SELECT pypeline.define_fact('bl_bad', 'binlog_mysql', 'SELECT id, amount FROM bl_sale WHERE amount > 0', 'bl_bad_fact',
	capture => 'binlog');
SELECT pypeline.drop_etl(n, 'fact') FROM unnest(ARRAY['bl_sales', 'bl_orders', 'bl_orders_ref']) n;
DROP TABLE bl_sales_fact, bl_orders_fact, bl_orders_ref_fact;
\! bash regress/mysql-exec.sh -e "DROP TABLE bl_sale"

DROP FUNCTION bl_differences(), bl_run_all(), bl_error(text);
DROP VIEW bl_ref_latest;
SELECT pypeline.drop_etl(n, 'dimension') FROM unnest(ARRAY['bl_cap', 'bl_ref', 'bl_cap1']) n;
DROP TABLE bl_cap_dim, bl_ref_dim, bl_cap1_dim;
DROP SERVER binlog_mysql CASCADE;
DELETE FROM pypeline.task WHERE what = 'capture';
SELECT setval('pypeline.task_id_seq', :task_seq, :'task_seq_called') > 0 AS task_ids_restored;
\! bash regress/mysql-exec.sh -e "DROP TABLE bl_item; DROP USER binlog_reader@'%'"
