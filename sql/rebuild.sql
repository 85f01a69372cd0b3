-- Rebuilds keep the tables a team built on.  A rebuilt dimension or fact
-- keeps its OID, so its views, grants, comments and indexes stay, and holds
-- the source's rows afterwards; a rebuild that fails leaves everything as
-- it was.  Two ways to switch are exercised: swapping the storage (a table
-- with nothing that checks rows) and truncate-and-insert (a table with a
-- trigger or a CHECK constraint, which must see the rows).
\! bash regress/mysql-exec.sh -e "CREATE TABLE rb_product (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, price DECIMAL(8,2)); INSERT INTO rb_product VALUES (1, 'pen', 1.50), (2, 'ink', 4.00), (3, 'pad', 2.25); CREATE TABLE rb_sale (id INT PRIMARY KEY, product_id INT NOT NULL, qty INT NOT NULL); INSERT INTO rb_sale VALUES (1, 1, 10), (2, 2, 1), (3, 1, 5), (4, 3, 2)"
SELECT pypeline.define_dimension('rb_product', 'regress_mysql',
	'SELECT id AS product_id, name, price FROM rb_product', 'rb_product_dim',
	natural_key => '{product_id}', scd_type => 2);
SELECT pypeline.define_fact('rb_sale', 'regress_mysql',
	'SELECT id AS sale_id, product_id, qty FROM rb_sale', 'rb_sale_fact',
	lookups => '{"rb_product": "product_id"}', measures => '{qty}', degenerate_columns => '{sale_id}');
SELECT * FROM pypeline.refresh_data_warehouse(true, true, false);

-- what a team adds: a view, a reader, an index, comments
CREATE VIEW rb_sales_by_product AS
	SELECT d.name, sum(f.qty) AS qty FROM rb_sale_fact f JOIN rb_product_dim d USING (rb_product_key) GROUP BY d.name;
CREATE ROLE regress_rb_reader;
GRANT SELECT ON rb_product_dim, rb_sale_fact, rb_sales_by_product TO regress_rb_reader;
CREATE INDEX rb_product_by_name ON rb_product_dim (name);
COMMENT ON TABLE rb_product_dim IS 'Products, one row per version';
COMMENT ON COLUMN rb_sale_fact.qty IS 'units sold';
CREATE TEMP TABLE kept AS
	SELECT c.oid AS relid, c.relname, c.relacl::text AS acl, obj_description(c.oid, 'pg_class') AS comment
	FROM pg_class c WHERE c.relname IN ('rb_product_dim', 'rb_sale_fact', 'rb_sales_by_product');
CREATE TEMP TABLE kept_indexes AS
	SELECT indexrelid AS indexid FROM pg_index
	WHERE indrelid IN ('rb_product_dim'::regclass, 'rb_sale_fact'::regclass);

-- the source changes: a renamed product (a new version), a new product and sale
\! bash regress/mysql-exec.sh -e "UPDATE rb_product SET name = 'ink, black' WHERE id = 2; INSERT INTO rb_product VALUES (4, 'clip', 0.10); INSERT INTO rb_sale VALUES (5, 4, 100)"
SELECT * FROM pypeline.refresh_data_warehouse(true, true, true);
SELECT * FROM check_all();
-- same tables, same grants and comments
SELECT k.relname, c.oid = k.relid AS same_table, c.relacl::text = k.acl AS same_grants,
       obj_description(c.oid, 'pg_class') IS NOT DISTINCT FROM k.comment AS same_comment
FROM kept k JOIN pg_class c ON c.relname = k.relname ORDER BY 1;
SELECT col_description('rb_sale_fact'::regclass, attnum) FROM pg_attribute
WHERE attrelid = 'rb_sale_fact'::regclass AND attname = 'qty';
-- the same indexes, rebuilt with the rows and valid; none added by the rebuild
SELECT i.indrelid::regclass AS tab, count(*) AS indexes, bool_and(k.indexid IS NOT NULL) AS same_indexes,
       bool_and(i.indisvalid) AS valid
FROM pg_index i LEFT JOIN kept_indexes k ON k.indexid = i.indexrelid
WHERE i.indrelid IN ('rb_product_dim'::regclass, 'rb_sale_fact'::regclass) GROUP BY 1 ORDER BY 1;
SELECT count(*) AS indexes_before FROM kept_indexes;
-- the rows are the source's, seen through the view by the reader
SET ROLE regress_rb_reader;
SELECT * FROM rb_sales_by_product ORDER BY name;
RESET ROLE;
SELECT rb_product_key, product_id, name, version, is_current FROM rb_product_dim ORDER BY rb_product_key;
-- the team's index was rebuilt with the rows: an index scan finds them
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT product_id FROM rb_product_dim WHERE name = 'ink, black';
SELECT product_id FROM rb_product_dim WHERE name = 'ink, black';
SELECT product_id FROM rb_product_dim WHERE name = 'clip';
RESET enable_seqscan;
RESET enable_bitmapscan;
-- new members continue the rebuilt keys
\! bash regress/mysql-exec.sh -e "INSERT INTO rb_product VALUES (5, 'tape', 3.00)"
SELECT * FROM pypeline.process_etl('rb_product', 'dimension');
SELECT rb_product_key, product_id FROM rb_product_dim WHERE product_id = 5;

-- A trigger and a CHECK constraint on the fact table see every rebuilt row.
CREATE TABLE rb_audit (rows bigint);
CREATE FUNCTION rb_count_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.rb_audit SELECT count(*) FROM inserted;
	RETURN NULL;
END $$;
CREATE TRIGGER rb_audit_inserts AFTER INSERT ON rb_sale_fact
	REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION rb_count_rows();
ALTER TABLE rb_sale_fact ADD CONSTRAINT rb_qty_positive CHECK (qty > 0);
SELECT * FROM pypeline.process_etl('rb_sale', 'fact', delete_existing_table => true);
SELECT * FROM rb_audit;
SELECT * FROM check_all();
-- a row the constraint refuses stops the rebuild: the fact is as it was
\! bash regress/mysql-exec.sh -e "UPDATE rb_sale SET qty = -1 WHERE id = 3"
\set SHOW_CONTEXT never
SELECT * FROM pypeline.process_etl('rb_sale', 'fact', delete_existing_table => true);
\set SHOW_CONTEXT errors
SELECT * FROM rb_sales_by_product ORDER BY name;
SELECT count(*) AS audited FROM rb_audit;
\! bash regress/mysql-exec.sh -e "UPDATE rb_sale SET qty = 5 WHERE id = 3"

-- A dimension the direct load gives up on (history out of key order) is
-- rebuilt through the staging table, into the same table.
\! bash regress/mysql-exec.sh -e "CREATE TABLE rb_customer (id INT, city VARCHAR(20), changed DATETIME, PRIMARY KEY (id, changed)); INSERT INTO rb_customer VALUES (1, 'Lyon', '2024-01-01'), (1, 'Nice', '2024-06-01'), (2, 'Metz', '2024-02-01')"
SELECT pypeline.define_dimension('rb_customer', 'regress_mysql',
	'SELECT id AS customer_id, city, changed FROM rb_customer ORDER BY id DESC, changed', 'rb_customer_dim',
	natural_key => '{customer_id}', scd_type => 2, change_date_column => 'changed');
SELECT * FROM pypeline.process_etl('rb_customer', 'dimension');
CREATE VIEW rb_customer_now AS SELECT customer_id, city FROM rb_customer_dim WHERE is_current;
\! bash regress/mysql-exec.sh -e "INSERT INTO rb_customer VALUES (2, 'Caen', '2024-09-01')"
SELECT * FROM pypeline.process_etl('rb_customer', 'dimension', delete_existing_table => true);
SELECT * FROM rb_customer_now ORDER BY customer_id;
SELECT * FROM check_all();

-- target_ddl with named constraints: the rebuild keeps the table and its names
SELECT pypeline.define_dimension('rb_store', 'regress_mysql',
	'SELECT 1 AS store_id, ''Lyon'' AS city UNION ALL SELECT 2, ''Metz''', 'rb_store_dim',
	natural_key => '{store_id}',
	target_ddl => 'CREATE TABLE rb_store_dim (rb_store_key bigint GENERATED BY DEFAULT AS IDENTITY (SEQUENCE NAME rb_store_seq),
		store_id bigint NOT NULL, city text, inferred boolean NOT NULL DEFAULT false,
		CONSTRAINT rb_store_pk PRIMARY KEY (rb_store_key), CONSTRAINT rb_city_named CHECK (city <> ''''))');
SELECT * FROM pypeline.process_etl('rb_store', 'dimension');
SELECT * FROM pypeline.process_etl('rb_store', 'dimension', delete_existing_table => true);
SELECT conname FROM pg_constraint WHERE conrelid = 'rb_store_dim'::regclass ORDER BY 1;
SELECT pg_get_serial_sequence('rb_store_dim', 'rb_store_key');
SELECT rb_store_key, store_id, city FROM rb_store_dim ORDER BY 1;

-- A column the source gained is added to the table, which keeps its view.
SELECT pypeline.define_fact('rb_sale', 'regress_mysql',
	'SELECT id AS sale_id, product_id, qty, qty * 2 AS points FROM rb_sale', 'rb_sale_fact',
	lookups => '{"rb_product": "product_id"}', measures => '{qty,points}', degenerate_columns => '{sale_id}');
SELECT * FROM pypeline.process_etl('rb_sale', 'fact', delete_existing_table => true);
SELECT c.oid = k.relid AS same_table FROM kept k JOIN pg_class c ON c.relname = k.relname WHERE k.relname = 'rb_sale_fact';
SELECT sum(points) AS points FROM rb_sale_fact;
SELECT * FROM rb_sales_by_product ORDER BY name;
SELECT * FROM check_all();

-- When a column's type changes, the table is made again: a view on it
-- stops that with a message saying why, and the run changes nothing.
SELECT pypeline.define_fact('rb_sale', 'regress_mysql',
	'SELECT id AS sale_id, product_id, CAST(qty AS DECIMAL(8,2)) AS qty, qty * 2 AS points FROM rb_sale', 'rb_sale_fact',
	lookups => '{"rb_product": "product_id"}', measures => '{qty,points}', degenerate_columns => '{sale_id}');
SELECT * FROM pypeline.process_etl('rb_sale', 'fact', delete_existing_table => true);
SELECT * FROM rb_sales_by_product ORDER BY name;
DO $$ BEGIN
	FOR i IN 1..100 LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM pypeline.run_log WHERE etl_name = 'rb_sale' AND message LIKE 'cannot rebuild%');
		PERFORM pg_sleep(0.05);
	END LOOP;
END $$;
SELECT status, message FROM pypeline.run_log WHERE etl_name = 'rb_sale' ORDER BY id DESC LIMIT 1;
-- without the view the table is made again, with the new type
DROP VIEW rb_sales_by_product;
SELECT * FROM pypeline.process_etl('rb_sale', 'fact', delete_existing_table => true);
SELECT pg_typeof(qty) AS qty_type, sum(qty) AS qty FROM rb_sale_fact GROUP BY 1;
SELECT * FROM check_all();

SELECT pypeline.drop_etl('rb_sale', 'fact');
SELECT pypeline.drop_etl('rb_product', 'dimension');
SELECT pypeline.drop_etl('rb_customer', 'dimension');
SELECT pypeline.drop_etl('rb_store', 'dimension');
DROP TABLE rb_sale_fact, rb_audit, rb_store_dim;
DROP VIEW rb_customer_now;
DROP TABLE rb_product_dim, rb_customer_dim;
DROP FUNCTION rb_count_rows();
DROP ROLE regress_rb_reader;
\! bash regress/mysql-exec.sh -e "DROP TABLE rb_product, rb_sale, rb_customer"
