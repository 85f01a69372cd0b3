-- Running ETLs: the run log (failures too), test_dimension_source writing
-- nothing, refresh order and atomicity, definitions surviving pg_dump.
\! bash regress/mysql-exec.sh -e "CREATE TABLE r_products (id INT PRIMARY KEY, title VARCHAR(50), price DECIMAL(8,2)); INSERT INTO r_products VALUES (1, 'Notes', 9.99), (2, 'Guide', 19.50)"
SELECT pypeline.define_dimension('product', 'regress_mysql',
	'SELECT id AS product_id, title, price FROM r_products', 'product_dim', natural_key => '{product_id}');
SELECT pypeline.define_dimension('broken', 'regress_mysql',
	'SELECT id AS broken_id, nope FROM r_products', 'broken_dim', natural_key => '{broken_id}');
SELECT pypeline.define_date_dimension('date', 'date_dim', '2015-12-30', '2016-01-02');

-- the old --test_dimension_source: each active source, read-only on both sides
BEGIN;
SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) AS writes_before FROM pg_stat_xact_user_tables \gset
SELECT * FROM pypeline.test_dimension_source();
SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) - :writes_before AS rows_written
FROM pg_stat_xact_user_tables;
SELECT count(*) AS tables_created FROM pg_class WHERE relname IN ('product_dim', 'broken_dim', 'date_dim');
COMMIT;

-- a failing ETL inside a refresh: the whole refresh rolls back, the error
-- names the ETL, and the failure is kept in the run log
SELECT * FROM pypeline.refresh_data_warehouse(true, true, true);
SELECT * FROM check_all();
SELECT to_regclass('product_dim') IS NULL AS product_rolled_back;
SELECT wait_for_failed_run('broken');
SELECT etl_type, etl_name, target, status, message, finished_at >= started_at AS timed
FROM pypeline.run_log WHERE etl_name IN ('product', 'broken', 'date') ORDER BY id;

-- without it, dimensions run in definition order and the calendar is generated
SELECT pypeline.set_active('broken', 'dimension', false);
SELECT * FROM pypeline.refresh_data_warehouse(true, true, true);
SELECT * FROM check_all();
SELECT * FROM date_dim ORDER BY date_key;
SELECT etl_name, rows_read, rows_inserted, rows_unchanged, status FROM pypeline.run_log
WHERE status = 'success' AND etl_name IN ('product', 'date') ORDER BY id;

-- an incremental refresh leaves the calendar and unchanged members alone
SELECT * FROM pypeline.refresh_data_warehouse(true, true, false);
SELECT * FROM check_all();
SELECT etl_name, rows_read, rows_inserted, rows_updated, rows_unchanged FROM pypeline.run_log
WHERE status = 'success' AND etl_name IN ('product', 'date') ORDER BY id DESC LIMIT 2;

-- definitions, watermarks and the run log are extension configuration: pg_dump keeps them
SELECT count(*) FROM pg_extension e, unnest(e.extconfig) c WHERE e.extname = 'pypeline';
\! /usr/lib/postgresql/15/bin/pg_dump -Fp --data-only -t 'pypeline.dimension' contrib_regression | grep -c "^COPY pypeline.dimension"

DROP TABLE product_dim, date_dim;
DELETE FROM pypeline.dimension;
DELETE FROM pypeline.run_log;
