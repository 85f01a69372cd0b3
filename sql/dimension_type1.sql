-- Type 1 (and type 0) dimensions: surrogate keys from an identity, an unknown
-- member, changed attributes overwritten in place, unchanged rows untouched.
\! bash regress/mysql-exec.sh -e "CREATE TABLE t1_schools (id INT UNSIGNED PRIMARY KEY, name VARCHAR(100), state CHAR(2)); INSERT INTO t1_schools VALUES (1, 'Abilene Christian University', 'TX'), (2, 'Academy of Art University', 'CA'), (3, 'Université de Montréal', NULL)"
SELECT pypeline.define_dimension('school', 'regress_mysql',
	'SELECT id AS school_id, name, state FROM t1_schools', 'school_dim',
	natural_key => '{school_id}');
SELECT etl_type, etl_name, active, server, target, kind FROM pypeline.etls;

SELECT * FROM pypeline.process_etl('school', 'dimension');
SELECT * FROM check_all();
SELECT * FROM school_dim ORDER BY school_key;
\d school_dim

-- a rerun on the same source rewrites nothing
CREATE TEMP TABLE before AS SELECT school_key, xmin::text AS version FROM school_dim;
SELECT * FROM pypeline.process_etl('school', 'dimension');
SELECT * FROM check_all();
SELECT count(*) AS rewritten FROM school_dim d JOIN before b USING (school_key) WHERE d.xmin::text <> b.version;

-- changes: a rename, a NULL that gets a value, a new school
\! bash regress/mysql-exec.sh -e "UPDATE t1_schools SET name = 'ACU' WHERE id = 1; UPDATE t1_schools SET state = 'QC' WHERE id = 3; INSERT INTO t1_schools VALUES (4, 'Adams State College', 'CO')"
SELECT * FROM pypeline.process_etl('school', 'dimension');
SELECT * FROM check_all();
SELECT * FROM school_dim ORDER BY school_key;
SELECT count(*) AS rewritten FROM school_dim d JOIN before b USING (school_key) WHERE d.xmin::text <> b.version;
SELECT etl_type, etl_name, target, rows_read, rows_inserted, rows_updated, rows_unchanged, status
FROM pypeline.run_log WHERE etl_name = 'school' ORDER BY id;

-- a rebuild recreates the table and its keys
SELECT * FROM pypeline.process_etl('school', 'dimension', delete_existing_table => true);
SELECT * FROM check_all();
SELECT school_key, school_id FROM school_dim ORDER BY school_key;

-- NULL and duplicate natural keys stop the run and leave the table as it was
SELECT pypeline.define_dimension('school', 'regress_mysql',
	'SELECT IF(id = 2, NULL, id) AS school_id, name, state FROM t1_schools', 'school_dim',
	natural_key => '{school_id}');
SELECT * FROM pypeline.process_etl('school', 'dimension');
SELECT * FROM check_all();
SELECT pypeline.define_dimension('school', 'regress_mysql',
	'SELECT id % 2 AS school_id, name, state FROM t1_schools', 'school_dim',
	natural_key => '{school_id}');
SELECT * FROM pypeline.process_etl('school', 'dimension');
SELECT * FROM check_all();
SELECT pypeline.define_dimension('school', 'regress_mysql',
	'SELECT id, name, state FROM t1_schools', 'school_dim', natural_key => '{school_id}');
SELECT * FROM pypeline.process_etl('school', 'dimension');
SELECT * FROM check_all();
SELECT count(*) FROM school_dim;

-- with on_bad_key => 'reject' those rows are set aside with the reason (every
-- row of a repeated key: none can be told right) and the rest loads
SELECT pypeline.define_dimension('school', 'regress_mysql',
	'SELECT IF(id = 2, NULL, IF(id = 4, 3, id)) AS school_id, name, state FROM t1_schools',
	'school_dim', natural_key => '{school_id}', on_bad_key => 'reject');
SELECT * FROM pypeline.process_etl('school', 'dimension');
SELECT * FROM check_all();
SELECT etl_type, etl_name, natural_key, reason, source_row FROM pypeline.reject ORDER BY id;
SELECT rows_read, rows_inserted, rows_updated, rows_unchanged, rows_rejected
FROM pypeline.run_log WHERE etl_name = 'school' AND status = 'success' ORDER BY id DESC LIMIT 1;
SELECT school_key, school_id, name FROM school_dim ORDER BY school_key;

-- explicit target DDL: the unknown member satisfies its NOT NULL columns
SELECT pypeline.define_dimension('school_strict', 'regress_mysql',
	'SELECT id AS school_id, name, state, 0 AS ranking FROM t1_schools', 'school_strict_dim',
	natural_key => '{school_id}',
	target_ddl => 'CREATE TABLE school_strict_dim (school_strict_key bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		school_id bigint NOT NULL, name varchar(200) NOT NULL, state char(2) NOT NULL,
		ranking integer NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now())');
SELECT * FROM pypeline.process_etl('school_strict', 'dimension');
SELECT * FROM check_all();
SELECT school_strict_key, school_id, name, state, ranking FROM school_strict_dim ORDER BY 1;

-- names that need quoting, in the target and in the source columns
SELECT pypeline.define_dimension('odd', 'regress_mysql',
	'SELECT id AS `School Id`, name AS `Order`, state AS `select` FROM t1_schools',
	'"Odd Dim"', natural_key => '{School Id}', surrogate_key => 'Odd Key');
SELECT * FROM pypeline.process_etl('odd', 'dimension');
SELECT * FROM check_all();
SELECT * FROM "Odd Dim" ORDER BY "Odd Key";
SELECT pypeline.define_dimension('evil', 'regress_mysql', 'SELECT 1 AS id', 'x; DROP TABLE school_dim', natural_key => '{id}');

-- type 0: members are added, never changed
SELECT pypeline.define_dimension('school_fixed', 'regress_mysql',
	'SELECT id AS school_id, name FROM t1_schools', 'school_fixed_dim',
	natural_key => '{school_id}', scd_type => 0);
SELECT * FROM pypeline.process_etl('school_fixed', 'dimension');
SELECT * FROM check_all();
\! bash regress/mysql-exec.sh -e "UPDATE t1_schools SET name = 'Changed' WHERE id = 2"
SELECT * FROM pypeline.process_etl('school_fixed', 'dimension');
SELECT * FROM check_all();
SELECT school_id, name FROM school_fixed_dim ORDER BY school_fixed_key;

-- definitions are checked
SELECT pypeline.define_dimension('bad', 'no_server', 'SELECT 1', 'bad_dim', natural_key => '{id}');
SELECT pypeline.define_dimension('bad', 'regress_mysql', 'SELECT 1', 'bad_dim', natural_key => '{}');
SELECT pypeline.define_dimension('bad', 'regress_mysql', 'SELECT 1', 'bad_dim', natural_key => '{id}', scd_type => 3);
SELECT pypeline.define_dimension('bad', 'regress_mysql', 'SELECT 1', 'bad_dim', natural_key => '{id}', type1_columns => '{x}');
SELECT * FROM pypeline.process_etl('nothing', 'dimension');
SELECT * FROM check_all();
SELECT * FROM pypeline.process_etl('school', 'cube');
SELECT * FROM check_all();

DROP TABLE school_dim, school_strict_dim, "Odd Dim", school_fixed_dim;
DELETE FROM pypeline.dimension;
DELETE FROM pypeline.run_log;
DELETE FROM pypeline.reject;
