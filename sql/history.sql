-- Type 2 history that no order of source changes can corrupt: the cases
-- from dbt snapshot and pygrametl SlowlyChangingDimension tests that once
-- wrote wrong history, the gap a member leaves when it is gone, and the
-- invariants (pypeline.check_dimension / check_fact) after every run.
\! bash regress/mysql-exec.sh -e "CREATE TABLE hs_people (id INT PRIMARY KEY, city VARCHAR(20), age INT, updated_at DATETIME); INSERT INTO hs_people VALUES (1, 'A', 20, '2020-01-01'), (2, 'X', 30, '2020-01-01'); CREATE TABLE hs_hist (seq INT AUTO_INCREMENT PRIMARY KEY, id INT, city VARCHAR(20), email VARCHAR(40), updated_at DATETIME); INSERT INTO hs_hist (id, city, email, updated_at) VALUES (1, 'A', 'a@old', '2020-01-01')"

CREATE FUNCTION hs_checks(dim text, fact text DEFAULT NULL) RETURNS SETOF text LANGUAGE sql AS $$
	SELECT 'dimension: ' || invariant || ' (' || violations || ', e.g. ' || example || ')' FROM pypeline.check_dimension(dim)
	UNION ALL
	SELECT 'fact: ' || invariant || ' (' || violations || ', e.g. ' || example || ')' FROM pypeline.check_fact(fact) WHERE fact IS NOT NULL
$$;

-- 1. A type-1 and a type-2 change of one member in one run: the version
--    closed keeps the type-1 value it had; only the new current one gets
--    the new value.
SELECT pypeline.define_dimension('hs_person', 'regress_mysql', 'SELECT id, city, age, updated_at FROM hs_people',
	'hs_person_dim', natural_key => '{id}', scd_type => 2, change_date_column => 'updated_at',
	column_rules => '{"age": "type1"}');
SELECT * FROM pypeline.process_etl('hs_person', 'dimension');
\! bash regress/mysql-exec.sh -e "UPDATE hs_people SET city = 'B', age = 21, updated_at = '2021-01-01' WHERE id = 1"
SELECT * FROM pypeline.process_etl('hs_person', 'dimension');
SELECT id, version, city, age, valid_from, valid_to, is_current FROM hs_person_dim WHERE id IS NOT NULL ORDER BY id, version;
SELECT hs_checks('hs_person');
-- a type-1 change alone rewrites the current version only
\! bash regress/mysql-exec.sh -e "UPDATE hs_people SET age = 22 WHERE id = 1"
SELECT * FROM pypeline.process_etl('hs_person', 'dimension');
SELECT id, version, city, age FROM hs_person_dim WHERE id = 1 ORDER BY version;
SELECT hs_checks('hs_person');

-- 2. type1_all with two history rows of one member in one run: every
--    version, the two new ones too, ends with the latest value.
SELECT pypeline.define_dimension('hs_contact', 'regress_mysql', 'SELECT seq, id, city, email, updated_at FROM hs_hist',
	'hs_contact_dim', natural_key => '{id}', scd_type => 2, change_date_column => 'updated_at',
	incremental_column => 'seq', column_rules => '{"email": "type1_all", "seq": "ignore"}');
SELECT * FROM pypeline.process_etl('hs_contact', 'dimension');
\! bash regress/mysql-exec.sh -e "INSERT INTO hs_hist (id, city, email, updated_at) VALUES (1, 'B', 'a@old', '2021-01-01'), (1, 'C', 'a@new', '2022-01-01')"
SELECT * FROM pypeline.process_etl('hs_contact', 'dimension');
SELECT id, version, city, email, valid_from, valid_to, is_current FROM hs_contact_dim WHERE id IS NOT NULL ORDER BY version;
SELECT hs_checks('hs_contact');

-- 3. A current version that starts in the future (a change date of
--    2200-01-01, as applications write), then a change dated earlier and a
--    hard delete: no interval ends before it starts, none overlap, and a
--    fact in that time is loaded once.
\! bash regress/mysql-exec.sh -e "CREATE TABLE hs_future (id INT PRIMARY KEY, status VARCHAR(10), updated_at DATETIME); INSERT INTO hs_future VALUES (1, 'new', '2020-01-01'), (2, 'new', '2020-01-01'), (3, 'new', '2020-01-01'), (4, 'new', '2020-01-01'), (5, 'new', '2020-01-01'), (6, 'new', '2020-01-01'); CREATE TABLE hs_orders (id INT PRIMARY KEY, item INT, at DATETIME(6)); INSERT INTO hs_orders VALUES (100, 1, '2150-06-01'), (101, 1, '2250-06-01')"
SELECT pypeline.define_dimension('hs_item', 'regress_mysql', 'SELECT id, status, updated_at FROM hs_future',
	'hs_item_dim', natural_key => '{id}', scd_type => 2, change_date_column => 'updated_at',
	deletes => 'new_record', max_closed_fraction => 0.5);
SELECT pypeline.define_fact('hs_order', 'regress_mysql', 'SELECT id, item, at FROM hs_orders', 'hs_order_fact',
	lookups => '{"hs_item": "item"}', degenerate_columns => '{id}', event_time_column => 'at');
SELECT * FROM pypeline.process_etl('hs_item', 'dimension');
\! bash regress/mysql-exec.sh -e "UPDATE hs_future SET status = 'planned', updated_at = '2200-01-01' WHERE id IN (1, 2)"
SELECT * FROM pypeline.process_etl('hs_item', 'dimension');
-- member 1 leaves the source, member 2 changes with a date before 2200
\! bash regress/mysql-exec.sh -e "DELETE FROM hs_future WHERE id = 1; UPDATE hs_future SET status = 'late', updated_at = '2021-01-01' WHERE id = 2"
SELECT * FROM pypeline.process_etl('hs_item', 'dimension');
SELECT id, version, status, valid_from, valid_to, is_current, deleted FROM hs_item_dim
WHERE id IN (1, 2) ORDER BY id, version;
SELECT message FROM pypeline.run_log WHERE etl_name = 'hs_item' ORDER BY id DESC LIMIT 1;
SELECT * FROM pypeline.process_etl('hs_order', 'fact');
SELECT o.id, d.id AS item, d.version FROM hs_order_fact o JOIN hs_item_dim d USING (hs_item_key) ORDER BY o.id;
SELECT hs_checks('hs_item', 'hs_order');
-- the same with deletes => 'invalidate'
SELECT pypeline.define_dimension('hs_item', 'regress_mysql', 'SELECT id, status, updated_at FROM hs_future',
	'hs_item_dim', natural_key => '{id}', scd_type => 2, change_date_column => 'updated_at',
	deletes => 'invalidate', max_closed_fraction => 0.5);
\! bash regress/mysql-exec.sh -e "UPDATE hs_future SET status = 'planned', updated_at = '2200-01-01' WHERE id = 3"
SELECT * FROM pypeline.process_etl('hs_item', 'dimension');
\! bash regress/mysql-exec.sh -e "DELETE FROM hs_future WHERE id = 3"
SELECT * FROM pypeline.process_etl('hs_item', 'dimension');
SELECT id, version, status, valid_from, valid_to, is_current FROM hs_item_dim WHERE id = 3 ORDER BY version;
SELECT hs_checks('hs_item', 'hs_order');

-- 4. A member that comes back after deletes => 'invalidate' gets a version
--    from its return (its change date if later, else the load's time): the
--    time it was gone stays a gap, and a fact dated in the gap finds no
--    version (the unknown member).
\! bash regress/mysql-exec.sh -e "DELETE FROM hs_future WHERE id = 4"
SELECT * FROM pypeline.process_etl('hs_item', 'dimension');
\! bash regress/mysql-exec.sh -e "INSERT INTO hs_future VALUES (4, 'back', '2020-01-01')"
SELECT * FROM pypeline.process_etl('hs_item', 'dimension');
SELECT id, version, status, valid_to = (SELECT valid_from FROM hs_item_dim WHERE id = 4 AND version = 2) AS no_gap,
       valid_to < (SELECT valid_from FROM hs_item_dim WHERE id = 4 AND version = 2) AS gap, is_current
FROM hs_item_dim WHERE id = 4 ORDER BY version;
SELECT hs_checks('hs_item');
-- a fact inside the gap gets the unknown member, one after the return the new version
\pset tuples_only on
\pset format unaligned
SELECT to_char(valid_to AT TIME ZONE 'UTC' + interval '1 microsecond', 'YYYY-MM-DD HH24:MI:SS.US')
FROM hs_item_dim WHERE id = 4 AND version = 1 \g |cat > "$PYPELINE_TMP/hs_gap"
\pset tuples_only off
\pset format aligned
\! bash regress/mysql-exec.sh -e "INSERT INTO hs_orders VALUES (102, 4, '$(cat "$PYPELINE_TMP/hs_gap")'), (103, 4, '2300-01-01')"
SELECT * FROM pypeline.process_etl('hs_order', 'fact', delete_existing_table => true);
SELECT o.id, o.hs_item_key = -1 AS unknown, d.version
FROM hs_order_fact o LEFT JOIN hs_item_dim d ON d.hs_item_key = o.hs_item_key AND o.hs_item_key <> -1
WHERE o.id IN (102, 103) ORDER BY o.id;
SELECT hs_checks('hs_item', 'hs_order');

-- 5. The checks see each kind of damage (made by hand here).
UPDATE hs_person_dim SET valid_to = '2022-01-01' WHERE id = 1 AND version = 1;
UPDATE hs_person_dim SET version = 5 WHERE id = 2;
UPDATE hs_person_dim SET valid_from = '2030-01-01', valid_to = '2020-01-01' WHERE id = 2;
DELETE FROM hs_person_dim WHERE hs_person_key = -1;
SELECT * FROM pypeline.check_dimension('hs_person') ORDER BY 1;
UPDATE hs_order_fact SET hs_item_key = (SELECT hs_item_key FROM hs_item_dim WHERE id = 4 AND version = 1) WHERE id = 103;
INSERT INTO hs_order_fact SELECT * FROM hs_order_fact WHERE id = 100;
INSERT INTO hs_order_fact (hs_item_key, id, at) VALUES (999999, 104, '2020-01-01');
SELECT * FROM pypeline.check_fact('hs_order') ORDER BY 1;
SELECT pypeline.check_dimension('hs_nothing');

-- 6. A rebuild starts a type 2 dimension's history over from what the
-- source still returns (a snapshot source: one version per member): it
-- says how many closed versions went, and the run log keeps it.
SELECT count(*) AS closed FROM hs_person_dim WHERE NOT is_current AND hs_person_key <> -1;
SELECT * FROM pypeline.process_etl('hs_person', 'dimension', delete_existing_table => true);
SELECT count(*) AS closed FROM hs_person_dim WHERE NOT is_current AND hs_person_key <> -1;
SELECT message FROM pypeline.run_log WHERE etl_name = 'hs_person' ORDER BY id DESC LIMIT 1;

-- clean up
DROP TABLE hs_person_dim, hs_contact_dim, hs_item_dim, hs_order_fact;
DELETE FROM pypeline.fact WHERE name LIKE 'hs_%';
DELETE FROM pypeline.dimension WHERE name LIKE 'hs_%';
DELETE FROM pypeline.run_log WHERE etl_name LIKE 'hs_%';
DROP FUNCTION hs_checks(text, text);
\! bash regress/mysql-exec.sh -e "DROP TABLE hs_people, hs_hist, hs_future, hs_orders"
