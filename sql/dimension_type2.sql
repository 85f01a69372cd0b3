-- Type 2 dimensions: a new version only when a tracked value really changed,
-- half-open [valid_from, valid_to) intervals, type-1 columns on all versions.
\! bash regress/mysql-exec.sh -e "CREATE TABLE t2_users (id INT UNSIGNED PRIMARY KEY, email VARCHAR(100) NOT NULL, state CHAR(2), updated_at DATETIME NOT NULL); INSERT INTO t2_users SELECT seq, CONCAT('user', seq, '@example.edu'), IF(seq = 7, NULL, ELT(1 + MOD(seq, 4), 'TX', 'CA', 'CO', 'NY')), '2012-01-01 00:00:00' FROM seq_1_to_1000"
SELECT pypeline.define_dimension('user', 'regress_mysql',
	'SELECT id AS user_id, email, state, updated_at FROM t2_users', 'user_dim',
	natural_key => '{user_id}', scd_type => 2, type1_columns => '{email}',
	change_date_column => 'updated_at');
SELECT * FROM pypeline.process_etl('user', 'dimension');
SELECT * FROM check_all();
\d user_dim
SELECT * FROM user_dim WHERE user_key <= 3 ORDER BY user_key;
SELECT count(*) AS versions, count(*) FILTER (WHERE is_current) AS current FROM user_dim;

-- rerunning the same source adds no version and rewrites nothing
CREATE TEMP TABLE before AS SELECT user_key, xmin::text AS version FROM user_dim;
SELECT * FROM pypeline.process_etl('user', 'dimension');
SELECT * FROM check_all();
SELECT count(*) AS versions FROM user_dim;
SELECT count(*) AS rewritten FROM user_dim d JOIN before b USING (user_key) WHERE d.xmin::text <> b.version;

-- one of 1000 rows changes a tracked value: exactly one new version, the old
-- one closed where the new one starts (the source's change date, in UTC)
\! bash regress/mysql-exec.sh -e "UPDATE t2_users SET state = 'WA', updated_at = '2016-01-15 10:00:00' WHERE id = 42"
SELECT * FROM pypeline.process_etl('user', 'dimension');
SELECT * FROM check_all();
SELECT count(*) AS versions FROM user_dim;
SELECT user_id, state, valid_from AT TIME ZONE 'UTC' AS valid_from, valid_to AT TIME ZONE 'UTC' AS valid_to,
       version, is_current
FROM user_dim WHERE user_id = 42 ORDER BY version;

-- NULL to a value is a change (IS DISTINCT FROM); a type-1 column changes
-- every version in place and adds none
\! bash regress/mysql-exec.sh -e "UPDATE t2_users SET state = 'OR', updated_at = '2016-02-01 00:00:00' WHERE id = 7; UPDATE t2_users SET email = 'new42@example.edu' WHERE id = 42"
SELECT * FROM pypeline.process_etl('user', 'dimension');
SELECT * FROM check_all();
SELECT user_id, email, state, version, is_current FROM user_dim WHERE user_id IN (7, 42) ORDER BY user_id, version;
SELECT etl_name, rows_read, rows_inserted, rows_updated, rows_unchanged FROM pypeline.run_log
WHERE etl_name = 'user' AND status = 'success' ORDER BY id;

-- a value back to NULL is a change too; and a rerun is still a no-op
\! bash regress/mysql-exec.sh -e "UPDATE t2_users SET state = NULL, updated_at = '2016-03-01 00:00:00' WHERE id = 42"
SELECT * FROM pypeline.process_etl('user', 'dimension');
SELECT * FROM check_all();
SELECT * FROM pypeline.process_etl('user', 'dimension');
SELECT * FROM check_all();
SELECT user_id, state, version, is_current FROM user_dim WHERE user_id = 42 ORDER BY version;

-- intervals never overlap and each member has exactly one current version
SELECT count(*) AS overlaps FROM user_dim a JOIN user_dim b
	ON a.user_id = b.user_id AND a.user_key < b.user_key
	AND tstzrange(a.valid_from, a.valid_to) && tstzrange(b.valid_from, b.valid_to);
SELECT user_id FROM user_dim WHERE user_id IS NOT NULL GROUP BY user_id HAVING count(*) FILTER (WHERE is_current) <> 1;

-- the unique partial index guards the current version
INSERT INTO user_dim (user_id, email, state, valid_from, valid_to, version, is_current)
VALUES (42, 'x', 'x', now(), 'infinity', 9, true);

-- without a change date, a new version starts at the load's transaction time
SELECT pypeline.define_dimension('user_nodate', 'regress_mysql',
	'SELECT id AS user_id, state FROM t2_users WHERE id <= 10', 'user_nodate_dim',
	natural_key => '{user_id}', scd_type => 2,
	beginning_of_time => '1900-01-01 00:00:00+00', end_of_time => '9999-12-31 00:00:00+00');
SELECT * FROM pypeline.process_etl('user_nodate', 'dimension');
SELECT * FROM check_all();
\! bash regress/mysql-exec.sh -e "UPDATE t2_users SET state = 'HI' WHERE id = 1"
BEGIN;
SELECT * FROM pypeline.process_etl('user_nodate', 'dimension');
SELECT * FROM check_all();
SELECT user_id, state, valid_from = now() AS starts_now, valid_to = now() AS ends_now, version
FROM user_nodate_dim WHERE user_id = 1 ORDER BY version;
COMMIT;
SELECT valid_from AT TIME ZONE 'UTC' AS valid_from, valid_to AT TIME ZONE 'UTC' AS valid_to
FROM user_nodate_dim WHERE user_nodate_key IN (-1, 2);

DROP TABLE user_dim, user_nodate_dim;
DELETE FROM pypeline.dimension;
DELETE FROM pypeline.run_log;
