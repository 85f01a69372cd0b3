-- Kimball's three fact kinds on a film-rental source (after Sakila's
-- customer, payment, rental and inventory): a refresh never duplicates;
-- an accumulating snapshot follows a rental through its milestones; a
-- periodic snapshot replaces only the periods it reads.  After every run
-- the fact is compared with the source it mirrors (read back through
-- pypeline.query), and run_log's counts with what changed.
\! bash regress/mysql-exec.sh -e "CREATE TABLE k_customer (customer_id SMALLINT UNSIGNED PRIMARY KEY, name VARCHAR(45) NOT NULL, city VARCHAR(50) NOT NULL); INSERT INTO k_customer VALUES (1, 'MARY SMITH', 'Sasebo'), (2, 'PATRICIA JOHNSON', 'San Bernardino'), (3, 'LINDA WILLIAMS', 'Athenai'); CREATE TABLE k_payment (payment_id SMALLINT UNSIGNED PRIMARY KEY, customer_id SMALLINT UNSIGNED NOT NULL, amount DECIMAL(5,2) NOT NULL, payment_date DATETIME NOT NULL); INSERT INTO k_payment VALUES (1, 1, 2.99, '2005-05-25 11:30:37'), (2, 1, 0.99, '2005-05-28 10:35:23'), (3, 2, 5.99, '2005-06-15 00:54:12'), (4, 3, 0.99, '2005-06-15 18:02:53'), (5, 3, 9.99, '2005-06-15 21:08:46'); CREATE TABLE k_rental (rental_id INT PRIMARY KEY, customer_id SMALLINT UNSIGNED NOT NULL, rental_date DATETIME NOT NULL, return_date DATETIME NULL, amount DECIMAL(5,2) NOT NULL, last_update TIMESTAMP NOT NULL); INSERT INTO k_rental VALUES (1, 1, '2005-05-24 22:53:30', '2005-05-26 22:04:30', 2.99, '2006-02-15 21:30:53'), (2, 2, '2005-05-24 22:54:33', '2005-05-28 19:40:33', 4.99, '2006-02-15 21:30:53'), (3, 3, '2005-05-24 23:03:39', NULL, 3.99, '2006-02-15 21:30:53'); CREATE TABLE k_inventory (snapshot_date DATE NOT NULL, store_id TINYINT UNSIGNED NOT NULL, films INT NOT NULL, PRIMARY KEY (snapshot_date, store_id)); INSERT INTO k_inventory VALUES ('2005-05-31', 1, 2270), ('2005-05-31', 2, 2311)"
SELECT pypeline.define_dimension('customer', 'regress_mysql',
	'SELECT customer_id, name, city FROM k_customer', 'customer_dim', natural_key => '{customer_id}');
SELECT pypeline.define_date_dimension('day', 'day_dim', '2005-05-01', '2005-12-31');
SELECT * FROM pypeline.process_etl('customer', 'dimension');
SELECT * FROM pypeline.process_etl('day', 'dimension');

-- run_log's counts of an ETL's last run
CREATE FUNCTION last_run(etl text) RETURNS TABLE (read bigint, inserted bigint, updated bigint,
	unchanged bigint, deleted bigint, repaired bigint, unmatched jsonb)
LANGUAGE sql AS $$
	SELECT rows_read, rows_inserted, rows_updated, rows_unchanged, rows_deleted, rows_repaired, unmatched
	FROM pypeline.run_log WHERE etl_name = etl AND status = 'success' ORDER BY id DESC LIMIT 1
$$;

-------------------------------------------------------------------------------
-- A full-source fact (no key, no watermark): each refresh replaces its rows.
-------------------------------------------------------------------------------
SELECT pypeline.define_fact('payment', 'regress_mysql',
	'SELECT payment_id, customer_id, amount, payment_date FROM k_payment', 'payment_fact',
	lookups => '{"customer": "customer_id", "day": "payment_date"}',
	measures => '{amount}', degenerate_columns => '{payment_id}', event_time_column => 'payment_date');
SELECT * FROM pypeline.refresh_data_warehouse(true, true, false);
SELECT * FROM pypeline.refresh_data_warehouse(true, true, false);
SELECT * FROM check_all();
SELECT * FROM last_run('payment');
-- the source exactly once: nothing missing, nothing twice
SELECT count(*) AS rows, sum(amount) AS revenue, count(DISTINCT payment_id) AS payments FROM payment_fact;
SELECT count(*) AS differences FROM (
	(SELECT payment_id, amount FROM payment_fact
	 EXCEPT ALL SELECT * FROM pypeline.query('regress_mysql', 'SELECT payment_id, amount FROM k_payment')
	     AS s(payment_id numeric, amount numeric))
	UNION ALL
	(SELECT * FROM pypeline.query('regress_mysql', 'SELECT payment_id, amount FROM k_payment')
	     AS s(payment_id numeric, amount numeric)
	 EXCEPT ALL SELECT payment_id, amount FROM payment_fact)) d;
-- a refund deleted at the source is gone from the fact at the next refresh
\! bash regress/mysql-exec.sh -e "DELETE FROM k_payment WHERE payment_id = 5"
SELECT * FROM pypeline.process_etl('payment', 'fact');
SELECT count(*) AS rows, sum(amount) AS revenue FROM payment_fact;

-------------------------------------------------------------------------------
-- An accumulating snapshot: one row per rental, upserted by its key as its
-- milestones (the return) arrive; deletes => 'delete' drops rentals the
-- source no longer has.
-------------------------------------------------------------------------------
SELECT pypeline.define_fact('rental', 'regress_mysql',
	'SELECT rental_id, customer_id, rental_date, return_date, amount FROM k_rental', 'rental_fact',
	lookups => '{"customer": "customer_id", "day": "rental_date"}',
	measures => '{amount}', degenerate_columns => '{return_date}', event_time_column => 'rental_date',
	key_columns => '{rental_id}', deletes => 'delete', max_deleted_fraction => 0.5);
SELECT etl_name, kind FROM pypeline.etls WHERE etl_type = 'fact' ORDER BY position;
-- insert
SELECT * FROM pypeline.process_etl('rental', 'fact');
SELECT * FROM last_run('rental');
\d rental_fact
-- update: rental 3 comes back (its milestone date is set), the others are not rewritten
CREATE TEMPORARY TABLE rental_rows AS SELECT rental_id, ctid::text AS tid FROM rental_fact;
\! bash regress/mysql-exec.sh -e "UPDATE k_rental SET return_date = '2005-06-02 11:10:09' WHERE rental_id = 3"
SELECT * FROM pypeline.process_etl('rental', 'fact');
SELECT * FROM last_run('rental');
SELECT count(*) AS rewritten FROM rental_fact f JOIN rental_rows r USING (rental_id) WHERE f.ctid::text <> r.tid;
-- correction: rental 2 was charged wrong; a new rental arrives with it
\! bash regress/mysql-exec.sh -e "UPDATE k_rental SET amount = 0.99 WHERE rental_id = 2; INSERT INTO k_rental VALUES (4, 1, '2005-05-25 00:00:00', NULL, 2.99, NOW())"
SELECT * FROM pypeline.process_etl('rental', 'fact');
SELECT * FROM last_run('rental');
-- delete: rental 1 was entered by mistake
\! bash regress/mysql-exec.sh -e "DELETE FROM k_rental WHERE rental_id = 1"
SELECT * FROM pypeline.process_etl('rental', 'fact');
SELECT * FROM last_run('rental');
SELECT * FROM check_all();
-- the fact is the source, row for row, with each rental's customer
SELECT count(*) AS differences FROM (
	(SELECT f.rental_id, c.customer_id, f.return_date, f.amount FROM rental_fact f JOIN customer_dim c USING (customer_key)
	 EXCEPT SELECT * FROM pypeline.query('regress_mysql', 'SELECT rental_id, customer_id, return_date, amount FROM k_rental')
	     AS s(rental_id int, customer_id int, return_date timestamp, amount numeric))
	UNION ALL
	(SELECT * FROM pypeline.query('regress_mysql', 'SELECT rental_id, customer_id, return_date, amount FROM k_rental')
	     AS s(rental_id int, customer_id int, return_date timestamp, amount numeric)
	 EXCEPT SELECT f.rental_id, c.customer_id, f.return_date, f.amount FROM rental_fact f JOIN customer_dim c USING (customer_key))) d;
-- a source that lost most of its rows is refused, and nothing changes
\! bash regress/mysql-exec.sh -e "CREATE TABLE k_rental_saved AS SELECT * FROM k_rental; DELETE FROM k_rental WHERE rental_id > 2"
SELECT * FROM pypeline.process_etl('rental', 'fact');
SELECT count(*) FROM rental_fact;
\! bash regress/mysql-exec.sh -e "INSERT INTO k_rental SELECT * FROM k_rental_saved WHERE rental_id > 2; DROP TABLE k_rental_saved"
-- a key given twice is refused: which row would be the fact?
SELECT pypeline.define_fact('rental_twice', 'regress_mysql',
	'SELECT rental_id, amount FROM k_rental UNION ALL SELECT rental_id, amount FROM k_rental WHERE rental_id = 2',
	'rental_twice_fact', measures => '{amount}', key_columns => '{rental_id}');
SELECT * FROM pypeline.process_etl('rental_twice', 'fact');
SELECT pypeline.drop_etl('rental_twice', 'fact');

-- Incremental by last_update: only changed rows are read, and a changed one
-- updates its fact row instead of being appended again.
SELECT pypeline.define_fact('rental_changes', 'regress_mysql',
	'SELECT rental_id, customer_id, rental_date, return_date, amount, last_update FROM k_rental',
	'rental_changes_fact', lookups => '{"customer": "customer_id"}', measures => '{amount}',
	degenerate_columns => '{return_date}', key_columns => '{rental_id}', incremental_column => 'last_update');
SELECT * FROM pypeline.process_etl('rental_changes', 'fact');
\! bash regress/mysql-exec.sh -e "UPDATE k_rental SET return_date = '2005-06-01 10:00:00', last_update = last_update + INTERVAL 1 DAY WHERE rental_id = 4"
SELECT * FROM pypeline.process_etl('rental_changes', 'fact');
SELECT * FROM last_run('rental_changes');
SELECT rental_id, return_date FROM rental_changes_fact ORDER BY rental_id;

-------------------------------------------------------------------------------
-- A periodic snapshot: a run replaces the snapshot periods its source
-- returns (here the latest day) and keeps every other.
-------------------------------------------------------------------------------
SELECT pypeline.define_fact('inventory', 'regress_mysql',
	'SELECT snapshot_date, store_id, films FROM k_inventory WHERE snapshot_date = (SELECT max(snapshot_date) FROM k_inventory)',
	'inventory_fact', lookups => '{"day": "snapshot_date"}', measures => '{films}',
	degenerate_columns => '{store_id}', snapshot_column => 'snapshot_date');
SELECT * FROM pypeline.process_etl('inventory', 'fact');
\! bash regress/mysql-exec.sh -e "INSERT INTO k_inventory VALUES ('2005-06-30', 1, 2301), ('2005-06-30', 2, 2290)"
SELECT * FROM pypeline.process_etl('inventory', 'fact');
-- June's count is corrected: June is replaced, May kept
\! bash regress/mysql-exec.sh -e "UPDATE k_inventory SET films = 2288 WHERE snapshot_date = '2005-06-30' AND store_id = 2"
SELECT * FROM pypeline.process_etl('inventory', 'fact');
SELECT * FROM last_run('inventory');
SELECT snapshot_date, store_id, films, day_key FROM inventory_fact ORDER BY 1, 2;
SELECT * FROM check_all();

-------------------------------------------------------------------------------
-- Unmatched keys are counted, and repaired when the member arrives.
-------------------------------------------------------------------------------
-- a rental by a customer the dimension does not have yet, on a day past the calendar
\! bash regress/mysql-exec.sh -e "INSERT INTO k_rental VALUES (5, 4, '2006-01-10 09:00:00', NULL, 1.99, NOW())"
SELECT * FROM pypeline.process_etl('rental', 'fact');
SELECT * FROM last_run('rental');
SELECT rental_id, customer_key, day_key FROM rental_fact WHERE rental_id = 5;
SELECT * FROM check_all();
-- the customer arrives, the calendar is widened: the next load gives the rental its members
\! bash regress/mysql-exec.sh -e "INSERT INTO k_customer VALUES (4, 'BARBARA JONES', 'Zanzibar')"
SELECT * FROM pypeline.process_etl('customer', 'dimension');
SELECT pypeline.define_date_dimension('day', 'day_dim', '2005-05-01', '2006-12-31');
SELECT etl_name FROM pypeline.process_etl('day', 'dimension');
SELECT * FROM pypeline.process_etl('rental', 'fact');
SELECT * FROM last_run('rental');
SELECT f.rental_id, c.customer_id, c.name, d.date FROM rental_fact f JOIN customer_dim c USING (customer_key)
	JOIN day_dim d USING (day_key) WHERE rental_id = 5;
-- a calendar without a last day runs a year past today, and further with the facts
SELECT pypeline.define_date_dimension('day', 'day_dim', '2005-05-01');
SELECT etl_name FROM pypeline.process_etl('day', 'dimension');
SELECT max(date) = current_date + 365 AS a_year_ahead FROM day_dim;
\! bash regress/mysql-exec.sh -e "INSERT INTO k_rental VALUES (6, 1, CURRENT_DATE + INTERVAL 800 DAY, NULL, 0.99, NOW())"
SELECT * FROM pypeline.process_etl('rental', 'fact');
SELECT day_key <> -1 AS has_its_day, (SELECT max(date) FROM day_dim) >= current_date + 800 AS calendar_grew
FROM rental_fact WHERE rental_id = 6;
SELECT etl_name FROM pypeline.process_etl('day', 'dimension');
SELECT max(date) >= current_date + 800 AS not_shrunk FROM day_dim;
SELECT * FROM check_all();
-- a transaction fact repairs its older rows the same way
\! bash regress/mysql-exec.sh -e "INSERT INTO k_payment VALUES (6, 5, 4.99, '2005-06-20 10:00:00')"
SELECT pypeline.define_fact('payment_stream', 'regress_mysql',
	'SELECT payment_id, customer_id, amount, payment_date FROM k_payment', 'payment_stream_fact',
	lookups => '{"customer": "customer_id"}', measures => '{amount}', degenerate_columns => '{payment_id}',
	incremental_column => 'payment_id');
SELECT * FROM pypeline.process_etl('payment_stream', 'fact');
SELECT * FROM last_run('payment_stream');
\! bash regress/mysql-exec.sh -e "INSERT INTO k_customer VALUES (5, 'ELIZABETH BROWN', 'Nantou')"
SELECT * FROM pypeline.process_etl('customer', 'dimension');
SELECT * FROM pypeline.process_etl('payment_stream', 'fact');
SELECT * FROM last_run('payment_stream');
SELECT count(*) FILTER (WHERE customer_key = -1) AS unknown, count(*) AS rows FROM payment_stream_fact;
SELECT * FROM check_all();

-- test_fact_source reads every active fact source, read-only, and checks its columns
UPDATE pypeline.fact SET measures = '{amount, fee}' WHERE name = 'payment';
SELECT etl_name, status, rows, message FROM pypeline.test_fact_source() ORDER BY etl_name;

DROP TABLE payment_fact, rental_fact, rental_changes_fact, inventory_fact, payment_stream_fact, customer_dim, day_dim;
DELETE FROM pypeline.fact;
DELETE FROM pypeline.dimension;
DELETE FROM pypeline.watermark;
DELETE FROM pypeline.run_log;
DROP FUNCTION last_run(text);
\! bash regress/mysql-exec.sh -e "DROP TABLE k_customer, k_payment, k_rental, k_inventory"
