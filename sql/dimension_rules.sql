-- Dimensions that stay correct over years: per-column change rules, history
-- in one run, hard deletes and the safety threshold, rejects, schema changes,
-- composite keys.
\! bash regress/mysql-exec.sh -e "CREATE TABLE r9_members (id INT PRIMARY KEY, name VARCHAR(30), tier VARCHAR(10), email VARCHAR(50), phone VARCHAR(20), source VARCHAR(10), updated_at DATETIME NOT NULL); INSERT INTO r9_members SELECT seq, CONCAT('member', seq), 'basic', CONCAT('m', seq, '@x.org'), CONCAT('555-', seq), 'web', '2014-01-01' FROM seq_1_to_10"

-- per-column rules: tier makes versions, email is overwritten on every
-- version, phone on the current one only, source keeps its first value
SELECT pypeline.define_dimension('member', 'regress_mysql',
	'SELECT id AS member_id, name, tier, email, phone, source, updated_at FROM r9_members',
	'member_dim', natural_key => '{member_id}', scd_type => 2, change_date_column => 'updated_at',
	column_rules => '{"email": "type1_all", "phone": "type1", "source": "ignore"}');
SELECT * FROM pypeline.process_etl('member', 'dimension');
SELECT * FROM check_all();
\! bash regress/mysql-exec.sh -e "UPDATE r9_members SET tier = 'gold', updated_at = '2015-01-01' WHERE id = 1"
SELECT * FROM pypeline.process_etl('member', 'dimension');
SELECT * FROM check_all();
\! bash regress/mysql-exec.sh -e "UPDATE r9_members SET email = 'one@x.org', phone = '555-0001', source = 'app' WHERE id = 1"
SELECT * FROM pypeline.process_etl('member', 'dimension');
SELECT * FROM check_all();
SELECT member_id, tier, email, phone, source, version, is_current FROM member_dim
WHERE member_id = 1 ORDER BY version;
-- a changed ignored column alone is no change
SELECT rows_inserted, rows_updated, rows_unchanged FROM pypeline.run_log
WHERE etl_name = 'member' AND status = 'success' ORDER BY id DESC LIMIT 1;

-- hard deletes: new_record closes the version and adds one flagged deleted;
-- reruns add nothing; a returning key gets a new current version
SELECT pypeline.define_dimension('member', 'regress_mysql',
	'SELECT id AS member_id, name, tier, updated_at FROM r9_members', 'member_dim',
	natural_key => '{member_id}', scd_type => 2, change_date_column => 'updated_at',
	deletes => 'new_record', schema_changes => 'add_type1');
\! bash regress/mysql-exec.sh -e "CREATE TABLE r9_members_gone AS SELECT * FROM r9_members WHERE id = 2; DELETE FROM r9_members WHERE id = 2"
SELECT * FROM pypeline.process_etl('member', 'dimension');
SELECT * FROM check_all();
SELECT * FROM pypeline.process_etl('member', 'dimension');
SELECT * FROM check_all();
SELECT member_id, tier, version, is_current, deleted, valid_to = 'infinity' AS open
FROM member_dim WHERE member_id = 2 ORDER BY version;
SELECT rows_read, rows_updated, rows_deleted, message FROM pypeline.run_log
WHERE etl_name = 'member' AND status = 'success' ORDER BY id DESC LIMIT 2;
\! bash regress/mysql-exec.sh -e "INSERT INTO r9_members SELECT * FROM r9_members_gone; DROP TABLE r9_members_gone"
SELECT * FROM pypeline.process_etl('member', 'dimension');
SELECT * FROM check_all();
SELECT member_id, tier, version, is_current, deleted FROM member_dim WHERE member_id = 2 ORDER BY version;
SELECT * FROM pypeline.process_etl('member', 'dimension');
SELECT * FROM check_all();
SELECT count(*) AS versions_of_2 FROM member_dim WHERE member_id = 2;

-- invalidate: the current version is closed and nothing else; the returning
-- key starts a new version after the gap
SELECT pypeline.define_dimension('member', 'regress_mysql',
	'SELECT id AS member_id, name, tier, updated_at FROM r9_members', 'member_dim',
	natural_key => '{member_id}', scd_type => 2, change_date_column => 'updated_at',
	deletes => 'invalidate', schema_changes => 'add_type1');
\! bash regress/mysql-exec.sh -e "CREATE TABLE r9_members_gone AS SELECT * FROM r9_members WHERE id = 3; DELETE FROM r9_members WHERE id = 3"
SELECT * FROM pypeline.process_etl('member', 'dimension');
SELECT * FROM check_all();
SELECT * FROM pypeline.process_etl('member', 'dimension');
SELECT * FROM check_all();
SELECT member_id, version, is_current, valid_to = 'infinity' AS open FROM member_dim
WHERE member_id = 3 ORDER BY version;
\! bash regress/mysql-exec.sh -e "INSERT INTO r9_members SELECT * FROM r9_members_gone; DROP TABLE r9_members_gone"
SELECT * FROM pypeline.process_etl('member', 'dimension');
SELECT * FROM check_all();
SELECT member_id, version, is_current, valid_to = 'infinity' AS open FROM member_dim
WHERE member_id = 3 ORDER BY version;
SELECT count(*) AS overlaps FROM member_dim a JOIN member_dim b
	ON a.member_id = b.member_id AND a.member_key < b.member_key
	AND tstzrange(a.valid_from, a.valid_to) && tstzrange(b.valid_from, b.valid_to);

-- an empty or truncated source does not wipe the dimension
SELECT pypeline.define_dimension('member', 'regress_mysql',
	'SELECT id AS member_id, name, tier, updated_at FROM r9_members WHERE id > 100', 'member_dim',
	natural_key => '{member_id}', scd_type => 2, change_date_column => 'updated_at',
	deletes => 'invalidate', schema_changes => 'add_type1');
SELECT * FROM pypeline.process_etl('member', 'dimension');
SELECT * FROM check_all();
SELECT count(*) AS current_members FROM member_dim WHERE is_current AND member_key > 0;

-- schema changes: a new source column is refused, added as type 1, or added
-- as type 2 (a version per member); a widened type is widened; a column the
-- source drops is kept (deletes stays invalidate: the history has its gaps)
\! bash regress/mysql-exec.sh -e "ALTER TABLE r9_members ADD COLUMN city VARCHAR(20) DEFAULT 'Austin', ADD COLUMN score INT DEFAULT 7"
SELECT pypeline.define_dimension('member', 'regress_mysql',
	'SELECT id AS member_id, name, tier, city, updated_at FROM r9_members', 'member_dim',
	natural_key => '{member_id}', scd_type => 2, deletes => 'invalidate', change_date_column => 'updated_at');
SELECT * FROM pypeline.process_etl('member', 'dimension');
SELECT * FROM check_all();
SELECT pypeline.define_dimension('member', 'regress_mysql',
	'SELECT id AS member_id, name, tier, city, updated_at FROM r9_members', 'member_dim',
	natural_key => '{member_id}', scd_type => 2, deletes => 'invalidate', change_date_column => 'updated_at',
	schema_changes => 'add_type1');
SELECT * FROM pypeline.process_etl('member', 'dimension');
SELECT * FROM check_all();
SELECT count(*) AS versions, count(*) FILTER (WHERE city = 'Austin') AS with_city FROM member_dim WHERE member_key > 0;
SELECT message FROM pypeline.run_log WHERE etl_name = 'member' AND status = 'success' ORDER BY id DESC LIMIT 1;
SELECT pypeline.define_dimension('member', 'regress_mysql',
	'SELECT id AS member_id, name, tier, city, score, updated_at FROM r9_members', 'member_dim',
	natural_key => '{member_id}', scd_type => 2, deletes => 'invalidate', change_date_column => 'updated_at',
	schema_changes => 'add_type2');
SELECT * FROM pypeline.process_etl('member', 'dimension');
SELECT * FROM check_all();
SELECT count(*) AS versions, count(*) FILTER (WHERE is_current AND score = 7) AS current_with_score
FROM member_dim WHERE member_key > 0;
\! bash regress/mysql-exec.sh -e "ALTER TABLE r9_members MODIFY score BIGINT DEFAULT 7"
SELECT * FROM pypeline.process_etl('member', 'dimension');
SELECT * FROM check_all();
SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'member_dim'::regclass AND attname = 'score';
SELECT pypeline.define_dimension('member', 'regress_mysql',
	'SELECT id AS member_id, name, tier, city, score, updated_at FROM r9_members', 'member_dim',
	natural_key => '{member_id}', scd_type => 2, deletes => 'invalidate', change_date_column => 'updated_at');
\! bash regress/mysql-exec.sh -e "ALTER TABLE r9_members MODIFY score VARCHAR(5) DEFAULT '7'"
SELECT * FROM pypeline.process_etl('member', 'dimension');
SELECT * FROM check_all();
SELECT pypeline.define_dimension('member', 'regress_mysql',
	'SELECT id AS member_id, name, tier, updated_at FROM r9_members', 'member_dim',
	natural_key => '{member_id}', scd_type => 2, deletes => 'invalidate', change_date_column => 'updated_at');
SELECT * FROM pypeline.process_etl('member', 'dimension');
SELECT * FROM check_all();

-- three changes of one key in one incremental run: three versions, in order
\! bash regress/mysql-exec.sh -e "CREATE TABLE r9_history (id INT, tier VARCHAR(10), changed_at DATETIME, PRIMARY KEY (id, changed_at)); INSERT INTO r9_history VALUES (1, 'basic', '2014-01-01'), (2, 'basic', '2014-01-01')"
SELECT pypeline.define_dimension('tier', 'regress_mysql',
	'SELECT id AS member_id, tier, changed_at FROM r9_history', 'tier_dim',
	natural_key => '{member_id}', scd_type => 2, change_date_column => 'changed_at',
	incremental_column => 'changed_at');
SELECT * FROM pypeline.process_etl('tier', 'dimension');
SELECT * FROM check_all();
\! bash regress/mysql-exec.sh -e "INSERT INTO r9_history VALUES (1, 'gold', '2015-03-01'), (1, 'silver', '2015-02-01'), (1, 'platinum', '2015-04-01'), (2, 'basic', '2015-05-01')"
SELECT * FROM pypeline.process_etl('tier', 'dimension');
SELECT * FROM check_all();
SELECT member_id, tier, version, valid_from AT TIME ZONE 'UTC' AS valid_from,
       valid_to AT TIME ZONE 'UTC' AS valid_to, is_current
FROM tier_dim WHERE tier_key > 0 ORDER BY member_id, version;
SELECT etl_type, etl_name, value FROM pypeline.watermark WHERE etl_name = 'tier';
-- the same history again is not loaded twice
SELECT * FROM pypeline.process_etl('tier', 'dimension');
SELECT * FROM check_all();
SELECT count(*) AS versions FROM tier_dim WHERE tier_key > 0;
-- a repeated key and change date is still a repeated key
\! bash regress/mysql-exec.sh -e "CREATE TABLE r9_dupes (id INT, tier VARCHAR(10), changed_at DATETIME); INSERT INTO r9_dupes VALUES (1, 'a', '2015-01-01'), (1, 'b', '2015-01-01'), (2, 'c', '2015-01-01')"
SELECT pypeline.define_dimension('dupe', 'regress_mysql',
	'SELECT id AS member_id, tier, changed_at FROM r9_dupes', 'dupe_dim',
	natural_key => '{member_id}', scd_type => 2, change_date_column => 'changed_at',
	on_bad_key => 'reject');
SELECT * FROM pypeline.process_etl('dupe', 'dimension');
SELECT * FROM check_all();
SELECT member_id, tier, is_current FROM dupe_dim WHERE dupe_key > 0;
SELECT natural_key, reason FROM pypeline.reject WHERE etl_name = 'dupe' ORDER BY id;

-- composite natural keys
\! bash regress/mysql-exec.sh -e "CREATE TABLE r9_courses (school_id INT, code VARCHAR(10), title VARCHAR(40), PRIMARY KEY (school_id, code)); INSERT INTO r9_courses VALUES (1, 'CS101', 'Programming'), (2, 'CS101', 'Intro to CS'), (1, 'MA101', 'Calculus')"
SELECT pypeline.define_dimension('course', 'regress_mysql',
	'SELECT school_id, code, title FROM r9_courses', 'course_dim',
	natural_key => '{school_id, code}', scd_type => 2);
SELECT * FROM pypeline.process_etl('course', 'dimension');
SELECT * FROM check_all();
\! bash regress/mysql-exec.sh -e "UPDATE r9_courses SET title = 'Programming I' WHERE school_id = 1 AND code = 'CS101'"
SELECT * FROM pypeline.process_etl('course', 'dimension');
SELECT * FROM check_all();
SELECT school_id, code, title, version, is_current FROM course_dim WHERE course_key > 0
ORDER BY school_id, code, version;

-- definitions are checked
SELECT pypeline.define_dimension('bad', 'regress_mysql', 'SELECT 1 AS id', 'bad_dim',
	natural_key => '{id}', column_rules => '{"x": "sometimes"}');
SELECT pypeline.define_dimension('bad', 'regress_mysql', 'SELECT 1 AS id', 'bad_dim',
	natural_key => '{id}', deletes => 'invalidate');
SELECT pypeline.define_dimension('bad', 'regress_mysql', 'SELECT 1 AS id', 'bad_dim',
	natural_key => '{id}', scd_type => 2, deletes => 'invalidate', incremental_column => 'id');

DROP TABLE member_dim, tier_dim, dupe_dim, course_dim;
DELETE FROM pypeline.dimension;
DELETE FROM pypeline.run_log;
DELETE FROM pypeline.reject;
