-- Reruns that compare while streaming.  A rerun of a full source read in
-- natural-key order compares each source row with its member's current
-- row and stages only rows that are new or differ; a source out of that
-- order is staged whole.  Each dimension here has a twin over the same
-- source read in descending key order, so that every rerun of the twin
-- takes the whole-source path: after each change both must hold the same
-- members, versions, flags and times (one refresh runs both, so now() is
-- the same), and run_log must count the same.
\! bash regress/mysql-exec.sh -e "CREATE TABLE rr_member (id INT PRIMARY KEY, name VARCHAR(20), price DECIMAL(6,2), city VARCHAR(20)); INSERT INTO rr_member VALUES (1, 'ann', 1.50, 'Lyon'), (2, 'bob', NULL, 'Metz'), (3, 'cy', 3.00, NULL), (5, 'dee', 5.00, 'Caen'); CREATE TABLE rr_sale (id INT PRIMARY KEY, member_id INT NOT NULL); INSERT INTO rr_sale VALUES (1, 1), (2, 7)"
SELECT pypeline.define_dimension('rr_asc', 'regress_mysql',
	'SELECT id, name, price, city FROM rr_member ORDER BY id', 'rr_asc_dim',
	natural_key => '{id}', scd_type => 2, deletes => 'new_record', type1_columns => '{city}');
SELECT pypeline.define_dimension('rr_desc', 'regress_mysql',
	'SELECT id, name, price, city FROM rr_member ORDER BY id DESC', 'rr_desc_dim',
	natural_key => '{id}', scd_type => 2, deletes => 'new_record', type1_columns => '{city}');
SELECT pypeline.define_dimension('rr1_asc', 'regress_mysql',
	'SELECT id, name, price, city FROM rr_member ORDER BY id', 'rr1_asc_dim', natural_key => '{id}');
SELECT pypeline.define_dimension('rr1_desc', 'regress_mysql',
	'SELECT id, name, price, city FROM rr_member ORDER BY id DESC', 'rr1_desc_dim', natural_key => '{id}');
-- a fact that infers member 7 in each dimension
SELECT pypeline.define_fact('rr_sale_' || d, 'regress_mysql', 'SELECT id AS sale_id, member_id FROM rr_sale',
	'rr_sale_' || d || '_fact', lookups => format('{"%s": "member_id"}', d)::jsonb,
	degenerate_columns => '{sale_id}', unmatched => 'inferred')
FROM unnest(ARRAY['rr_asc', 'rr_desc', 'rr1_asc', 'rr1_desc']) d;

-- the first loads, then a rerun with nothing changed
SELECT count(*) AS etls FROM pypeline.refresh_data_warehouse(true, true, false);
CREATE FUNCTION rr_differences() RETURNS TABLE (twin text, differences bigint) LANGUAGE sql AS $$
	SELECT 'type 2', count(*) FROM (
		(SELECT id, name, price, city, valid_from, valid_to, version, is_current, deleted, inferred FROM rr_asc_dim
		 EXCEPT ALL
		 SELECT id, name, price, city, valid_from, valid_to, version, is_current, deleted, inferred FROM rr_desc_dim)
		UNION ALL
		(SELECT id, name, price, city, valid_from, valid_to, version, is_current, deleted, inferred FROM rr_desc_dim
		 EXCEPT ALL
		 SELECT id, name, price, city, valid_from, valid_to, version, is_current, deleted, inferred FROM rr_asc_dim)) x
	UNION ALL
	SELECT 'type 1', count(*) FROM (
		(SELECT id, name, price, city, inferred FROM rr1_asc_dim EXCEPT ALL SELECT id, name, price, city, inferred FROM rr1_desc_dim)
		UNION ALL
		(SELECT id, name, price, city, inferred FROM rr1_desc_dim EXCEPT ALL SELECT id, name, price, city, inferred FROM rr1_asc_dim)) x
	UNION ALL
	SELECT 'run log', count(*) FROM (
		SELECT replace(etl_name, '_desc', '_asc'),
		       count(DISTINCT (rows_read, rows_inserted, rows_updated, rows_unchanged, rows_deleted, rows_rejected, status))
		FROM (SELECT DISTINCT ON (etl_name) * FROM pypeline.run_log
		      WHERE etl_type = 'dimension' AND etl_name LIKE 'rr%' ORDER BY etl_name, id DESC) last
		GROUP BY 1 HAVING count(DISTINCT (rows_read, rows_inserted, rows_updated, rows_unchanged, rows_deleted, rows_rejected, status)) > 1) x
$$;
CREATE VIEW rr_last_runs AS
	SELECT DISTINCT ON (etl_name) etl_name, rows_read, rows_inserted, rows_updated, rows_unchanged, rows_deleted
	FROM pypeline.run_log WHERE etl_type = 'dimension' AND etl_name LIKE 'rr%_asc' ORDER BY etl_name, id DESC;

SELECT * FROM rr_differences();
SELECT count(*) AS etls FROM pypeline.refresh_data_warehouse(true, true, false);
SELECT * FROM rr_differences();
SELECT * FROM rr_last_runs;
SELECT * FROM check_all();

-- a tracked change, NULL to a value, a type-1 change, a new member between
-- others, and the inferred member 7 arriving
\! bash regress/mysql-exec.sh -e "UPDATE rr_member SET name = 'anne' WHERE id = 1; UPDATE rr_member SET price = 2.00 WHERE id = 2; UPDATE rr_member SET city = 'Nice' WHERE id = 3; INSERT INTO rr_member VALUES (4, 'eve', 4.00, 'Pau'), (7, 'gus', 7.00, 'Albi')"
SELECT count(*) AS etls FROM pypeline.refresh_data_warehouse(true, true, false);
SELECT * FROM rr_differences();
SELECT * FROM rr_last_runs;
SELECT * FROM check_all();

-- a value back to NULL, a member gone (flagged deleted), a sale of member 8
-- (inferred)
\! bash regress/mysql-exec.sh -e "UPDATE rr_member SET price = NULL WHERE id = 2; DELETE FROM rr_member WHERE id = 5; INSERT INTO rr_sale VALUES (3, 8)"
SELECT count(*) AS etls FROM pypeline.refresh_data_warehouse(true, true, false);
SELECT * FROM rr_differences();
SELECT * FROM rr_last_runs;
SELECT * FROM check_all();

-- member 5 back with the values it had, and member 8 with nothing but its key:
-- both equal what the table holds, and both must still be staged (deleted
-- and inferred rows always are)
\! bash regress/mysql-exec.sh -e "INSERT INTO rr_member VALUES (5, 'dee', 5.00, 'Caen'), (8, NULL, NULL, NULL)"
SELECT count(*) AS etls FROM pypeline.refresh_data_warehouse(true, true, false);
SELECT * FROM rr_differences();
SELECT * FROM rr_last_runs;
SELECT * FROM check_all();
SELECT id, name, price, city, version, is_current, deleted, inferred FROM rr_asc_dim WHERE id IS NOT NULL ORDER BY id, version;
SELECT id, name, price, city, inferred FROM rr1_asc_dim WHERE id IS NOT NULL ORDER BY id;

-- a member missing from the start of the source, then one from its end
\! bash regress/mysql-exec.sh -e "DELETE FROM rr_member WHERE id = 1"
SELECT count(*) AS etls FROM pypeline.refresh_data_warehouse(true, true, false);
SELECT * FROM rr_differences();
SELECT * FROM rr_last_runs;
\! bash regress/mysql-exec.sh -e "DELETE FROM rr_member WHERE id = 8"
SELECT count(*) AS etls FROM pypeline.refresh_data_warehouse(true, true, false);
SELECT * FROM rr_differences();
SELECT * FROM rr_last_runs;
SELECT * FROM check_all();
SELECT id, name, version, is_current, deleted FROM rr_asc_dim WHERE id IN (1, 8) ORDER BY id, version;

SELECT pypeline.drop_etl('rr_sale_' || d, 'fact') FROM unnest(ARRAY['rr_asc', 'rr_desc', 'rr1_asc', 'rr1_desc']) d;
SELECT pypeline.drop_etl(d, 'dimension') FROM unnest(ARRAY['rr_asc', 'rr_desc', 'rr1_asc', 'rr1_desc']) d;
DROP VIEW rr_last_runs;
DROP FUNCTION rr_differences();
DROP TABLE rr_sale_rr_asc_fact, rr_sale_rr_desc_fact, rr_sale_rr1_asc_fact, rr_sale_rr1_desc_fact,
	rr_asc_dim, rr_desc_dim, rr1_asc_dim, rr1_desc_dim;
\! bash regress/mysql-exec.sh -e "DROP TABLE rr_member, rr_sale"
