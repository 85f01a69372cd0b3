-- A new fact table is filled as the source streams, its lookups answered
-- from memory (pypeline.lookup_memory); the same load with lookup_memory = 0
-- resolves them by the join of staged rows, which is the reference: every
-- scenario loads both ways and compares rows, counts and run log.  The run
-- log's message says when a load goes through a staging table, and why.
\! bash regress/mysql-exec.sh -e "CREATE TABLE l_customers (id INT PRIMARY KEY, tier VARCHAR(10), updated_at DATETIME NOT NULL); INSERT INTO l_customers SELECT seq, 'bronze', '2012-01-01' FROM seq_1_to_50; CREATE TABLE l_products (code VARCHAR(20) PRIMARY KEY, name VARCHAR(50)); INSERT INTO l_products VALUES ('A-1', 'anvil'), ('B 2', 'bolt'), ('c,3', 'crate'), ('', 'nameless'); CREATE TABLE l_sales (id INT PRIMARY KEY, customer_id SMALLINT, product_code VARCHAR(20), sold_at DATETIME, amount DECIMAL(8,2) NOT NULL); INSERT INTO l_sales SELECT seq, 1 + MOD(seq, 50), ELT(1 + MOD(seq, 4), 'A-1', 'B 2', 'c,3', ''), '2013-01-01' + INTERVAL seq * 7 HOUR, seq / 10 FROM seq_1_to_2000"
SELECT pypeline.define_dimension('l_customer', 'regress_mysql',
	'SELECT id AS customer_id, tier, updated_at FROM l_customers', 'l_customer_dim',
	natural_key => '{customer_id}', scd_type => 2, change_date_column => 'updated_at');
SELECT pypeline.define_dimension('l_product', 'regress_mysql',
	'SELECT code AS product_code, name FROM l_products', 'l_product_dim', natural_key => '{product_code}');
SELECT pypeline.define_date_dimension('l_day', 'l_day_dim', '2013-01-01', '2013-12-31');
SELECT pypeline.define_fact('l_sale', 'regress_mysql',
	'SELECT id, customer_id, product_code, sold_at, amount FROM l_sales', 'l_sale_fact',
	lookups => '{"l_customer": "customer_id", "l_product": "product_code", "l_day": "sold_at"}',
	measures => '{amount}', degenerate_columns => '{id}', event_time_column => 'sold_at');
SELECT * FROM pypeline.process_etl('l_customer', 'dimension');
SELECT * FROM pypeline.process_etl('l_product', 'dimension');
SELECT * FROM pypeline.process_etl('l_day', 'dimension');

-- customers get history: versions from 2013-03-01 and 2013-06-01 on
\! bash regress/mysql-exec.sh -e "UPDATE l_customers SET tier = 'silver', updated_at = '2013-03-01' WHERE id <= 25"
SELECT * FROM pypeline.process_etl('l_customer', 'dimension');
\! bash regress/mysql-exec.sh -e "UPDATE l_customers SET tier = 'gold', updated_at = '2013-06-01' WHERE id <= 10"
SELECT * FROM pypeline.process_etl('l_customer', 'dimension');
SELECT tier, count(*) FROM l_customer_dim GROUP BY 1 ORDER BY 1;

-- Loads a fact streamed, then joined (a rebuild each), and compares.
CREATE FUNCTION both_paths(fact text, fact_table text)
RETURNS TABLE (streamed bigint, joined bigint, differing bigint, unmatched_streamed jsonb, unmatched_joined jsonb,
			   message text)
LANGUAGE plpgsql AS $$
BEGIN
	SELECT p.rows INTO streamed FROM pypeline.process_etl(fact, 'fact', true) p;
	SELECT l.unmatched, l.message INTO unmatched_streamed, message FROM pypeline.run_log l
		WHERE l.etl_name = fact ORDER BY l.id DESC LIMIT 1;
	EXECUTE format('CREATE TEMPORARY TABLE streamed_rows AS TABLE %I', fact_table);
	PERFORM set_config('pypeline.lookup_memory', '0', true);
	SELECT p.rows INTO joined FROM pypeline.process_etl(fact, 'fact', true) p;
	PERFORM set_config('pypeline.lookup_memory', '256MB', true);
	SELECT l.unmatched INTO unmatched_joined FROM pypeline.run_log l
		WHERE l.etl_name = fact ORDER BY l.id DESC LIMIT 1;
	EXECUTE format('SELECT count(*) FROM ((TABLE streamed_rows EXCEPT ALL TABLE %1$I) '
				   'UNION ALL (TABLE %1$I EXCEPT ALL TABLE streamed_rows)) x', fact_table) INTO differing;
	DROP TABLE streamed_rows;
	RETURN NEXT;
END $$;

-- type 2 as of the sale's time, a SMALLINT key into an integer one, text
-- keys (one empty, some needing quotes), DATETIME into the calendar's days
SELECT * FROM both_paths('l_sale', 'l_sale_fact');
-- and against what each key must find
SELECT u.tier, count(*) FROM l_sale_fact f JOIN l_customer_dim u USING (l_customer_key) GROUP BY 1 ORDER BY 1;
SELECT count(*) AS wrong_version FROM l_sale_fact f JOIN l_customer_dim u USING (l_customer_key)
WHERE u.customer_id <> f.customer_id
   OR (f.sold_at AT TIME ZONE 'UTC') < u.valid_from OR (f.sold_at AT TIME ZONE 'UTC') >= u.valid_to;
SELECT count(*) AS wrong_product FROM l_sale_fact f JOIN l_product_dim p USING (l_product_key)
WHERE p.product_code IS DISTINCT FROM f.product_code;
SELECT count(*) FILTER (WHERE d.date = f.sold_at::date) AS right_day,
       count(*) FILTER (WHERE f.l_day_key = -1 AND f.sold_at >= '2014-01-01') AS unknown_day_past_2013,
       count(*) AS facts
FROM l_sale_fact f LEFT JOIN l_day_dim d USING (l_day_key);
SELECT * FROM check_all();

-- unmatched keys, NULL keys and event times: unknown members, the same
-- NOTICE with the same example key, the same run log counts
\! bash regress/mysql-exec.sh -e "INSERT INTO l_sales VALUES (3001, 99, 'A-1', '2013-05-01', 1), (3002, NULL, 'nope (x)', '2013-05-01', 1), (3003, 5, NULL, NULL, 1), (3004, 5, 'B 2', '2014-02-01', 1), (3005, 7, 'nope (x)', '2013-05-02', 1)"
SELECT * FROM both_paths('l_sale', 'l_sale_fact');
SELECT f.id, u.tier, p.name, d.date FROM l_sale_fact f LEFT JOIN l_customer_dim u USING (l_customer_key)
LEFT JOIN l_product_dim p USING (l_product_key) LEFT JOIN l_day_dim d USING (l_day_key)
WHERE f.id > 3000 ORDER BY f.id;

-- a miss the staged load does more with goes that way: an error counts
-- every row, an inferred member is added ...
UPDATE pypeline.fact SET unmatched = 'error' WHERE name = 'l_sale';
SELECT * FROM pypeline.process_etl('l_sale', 'fact', true);
UPDATE pypeline.fact SET unmatched = 'inferred' WHERE name = 'l_sale';
SELECT * FROM both_paths('l_sale', 'l_sale_fact');
SELECT customer_id, tier, inferred FROM l_customer_dim WHERE customer_id = 99;
UPDATE pypeline.fact SET unmatched = 'unknown' WHERE name = 'l_sale';

-- ... and a calendar that grows with the facts gets the days past its end
SELECT pypeline.define_date_dimension('l_growing_day', 'l_growing_day_dim', '2013-01-01');
-- how many days a growing calendar has depends on today's date
SELECT etl_type, etl_name, rows > 5000 AS loaded FROM pypeline.process_etl('l_growing_day', 'dimension');
SELECT count(*) = max(date) - '2013-01-01' + 1 AS one_row_a_day FROM l_growing_day_dim WHERE date IS NOT NULL;
SELECT pypeline.define_fact('l_sale_by_day', 'regress_mysql',
	'SELECT id, sold_at, amount FROM l_sales', 'l_sale_by_day_fact',
	lookups => '{"l_growing_day": "sold_at"}', measures => '{amount}', degenerate_columns => '{id}');
SELECT * FROM both_paths('l_sale_by_day', 'l_sale_by_day_fact');
SELECT max(date) > current_date + 300 AS a_year_ahead FROM l_growing_day_dim;
\! bash regress/mysql-exec.sh -e "INSERT INTO l_sales VALUES (3006, 5, 'B 2', '2031-07-01', 1)"
SELECT * FROM both_paths('l_sale_by_day', 'l_sale_by_day_fact');
SELECT max(date) FROM l_growing_day_dim;
SELECT f.id, d.date FROM l_sale_by_day_fact f JOIN l_growing_day_dim d USING (l_growing_day_key) WHERE f.id = 3006;

-- facts that look up no day leave a growing calendar as it is
SELECT pypeline.define_fact('l_no_sale', 'regress_mysql',
	'SELECT id, sold_at FROM l_sales WHERE id < 0', 'l_no_sale_fact',
	lookups => '{"l_growing_day": "sold_at"}', degenerate_columns => '{id}');
SELECT * FROM both_paths('l_no_sale', 'l_no_sale_fact');
SELECT max(date) FROM l_growing_day_dim;

-- dimensions larger than lookup_memory are joined
SET pypeline.lookup_memory = '1kB';
SELECT * FROM pypeline.process_etl('l_sale', 'fact', true);
SELECT message FROM pypeline.run_log ORDER BY id DESC LIMIT 1;
RESET pypeline.lookup_memory;

SELECT * FROM check_all();

DROP TABLE l_sale_fact, l_sale_by_day_fact, l_no_sale_fact, l_customer_dim, l_product_dim, l_day_dim, l_growing_day_dim;
DELETE FROM pypeline.fact;
DELETE FROM pypeline.dimension;
DELETE FROM pypeline.watermark;
DELETE FROM pypeline.run_log;
DROP FUNCTION both_paths(text, text);
\! bash regress/mysql-exec.sh -e "DROP TABLE l_customers, l_products, l_sales"
