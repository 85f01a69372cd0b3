-- Facts: natural keys resolved to surrogate keys, as-of for type 2, unknown,
-- inferred or refused unmatched keys, incremental loads by watermark.
\! bash regress/mysql-exec.sh -e "CREATE TABLE f_users (id INT UNSIGNED PRIMARY KEY, email VARCHAR(100), state CHAR(2), updated_at DATETIME NOT NULL); INSERT INTO f_users SELECT seq, CONCAT('u', seq, '@example.edu'), 'TX', '2012-01-01' FROM seq_1_to_100; CREATE TABLE f_schools (id INT UNSIGNED PRIMARY KEY, name VARCHAR(50)); INSERT INTO f_schools VALUES (1, 'North'), (2, 'South'); CREATE TABLE f_payments (id BIGINT UNSIGNED PRIMARY KEY, user_id INT UNSIGNED, school_id INT UNSIGNED, amount DECIMAL(10,2) NOT NULL, quantity SMALLINT UNSIGNED NOT NULL, created_at DATETIME NOT NULL); INSERT INTO f_payments SELECT seq, 1 + MOD(seq, 100), 1 + MOD(seq, 2), seq / 100, 1, '2013-01-01' + INTERVAL seq HOUR FROM seq_1_to_1000"
SELECT pypeline.define_dimension('user', 'regress_mysql',
	'SELECT id AS user_id, email, state, updated_at FROM f_users', 'user_dim',
	natural_key => '{user_id}', scd_type => 2, type1_columns => '{email}',
	change_date_column => 'updated_at');
SELECT pypeline.define_dimension('school', 'regress_mysql',
	'SELECT id AS school_id, name FROM f_schools', 'school_dim', natural_key => '{school_id}');
SELECT pypeline.define_date_dimension('date', 'date_dim', '2013-01-01', '2013-12-31');
SELECT pypeline.define_fact('payment', 'regress_mysql',
	'SELECT id, user_id, school_id, amount, quantity, created_at FROM f_payments', 'payment_fact',
	lookups => '{"user": "user_id", "school": "school_id", "date": "created_at"}',
	measures => '{amount, quantity}', degenerate_columns => '{id}',
	event_time_column => 'created_at', incremental_column => 'id');
SELECT etl_type, etl_name, kind FROM pypeline.etls;

-- a fact needs its dimensions loaded
SELECT * FROM pypeline.process_etl('payment', 'fact');
SELECT * FROM check_all();

SELECT * FROM pypeline.refresh_data_warehouse(true, true, true);
SELECT * FROM check_all();
\d payment_fact
SELECT count(*), sum(amount), sum(quantity), count(*) FILTER (WHERE user_key = -1) AS unknown_users
FROM payment_fact;
-- each key resolves to the member of that natural key
SELECT count(*) AS wrong_links FROM payment_fact f
	JOIN user_dim u USING (user_key) JOIN school_dim s USING (school_key)
	JOIN date_dim d USING (date_key)
	WHERE u.user_id <> 1 + f.id % 100 OR s.school_id <> 1 + f.id % 2
	   OR d.date <> (timestamp '2013-01-01' + f.id * interval '1 hour')::date;
SELECT etl_type, etl_name, value FROM pypeline.watermark;

-- incremental: only rows past the watermark are read
\! bash regress/mysql-exec.sh -e "INSERT INTO f_payments SELECT 1000 + seq, 5, 1, 10, 2, '2013-06-01 12:00:00' FROM seq_1_to_10"
SELECT * FROM pypeline.process_etl('payment', 'fact');
SELECT * FROM check_all();
SELECT count(*) FROM payment_fact;
SELECT etl_type, etl_name, value FROM pypeline.watermark;
SELECT * FROM pypeline.process_etl('payment', 'fact');
SELECT * FROM check_all();

-- a late fact finds the version valid at its time, not the current one
\! bash regress/mysql-exec.sh -e "UPDATE f_users SET state = 'CA', updated_at = '2013-07-01' WHERE id = 5; INSERT INTO f_payments VALUES (2001, 5, 1, 1, 1, '2013-06-15 00:00:00'), (2002, 5, 1, 1, 1, '2013-07-15 00:00:00')"
SELECT * FROM pypeline.process_etl('user', 'dimension');
SELECT * FROM check_all();
SELECT * FROM pypeline.process_etl('payment', 'fact');
SELECT * FROM check_all();
SELECT f.id, u.state, u.version FROM payment_fact f JOIN user_dim u USING (user_key)
WHERE f.id IN (2001, 2002) ORDER BY f.id;

-- a dimension change that arrives late (its change date is before facts
-- already loaded) takes those facts over: they are re-keyed to the version
-- valid at their event time
SELECT count(*) AS facts_of_user_6, min(u.version) AS version FROM payment_fact f
JOIN user_dim u USING (user_key) WHERE u.user_id = 6 AND f.created_at >= '2013-01-20';
\! bash regress/mysql-exec.sh -e "UPDATE f_users SET state = 'OR', updated_at = '2013-01-20' WHERE id = 6"
SELECT * FROM pypeline.process_etl('user', 'dimension');
SELECT * FROM check_all();
SELECT u.version, u.state, count(*) AS facts FROM payment_fact f JOIN user_dim u USING (user_key)
WHERE u.user_id = 6 GROUP BY 1, 2 ORDER BY 1;
SELECT count(*) AS wrong_version FROM payment_fact f JOIN user_dim u USING (user_key)
WHERE (f.created_at AT TIME ZONE 'UTC') < u.valid_from OR (f.created_at AT TIME ZONE 'UTC') >= u.valid_to;

-- unmatched keys: the unknown member by default (NULL keys too) ...
\! bash regress/mysql-exec.sh -e "INSERT INTO f_payments VALUES (3001, 999, 1, 1, 1, '2013-08-01'), (3002, NULL, 1, 1, 1, '2013-08-01'), (3003, 1, 1, 1, 1, '2020-01-01')"
SELECT * FROM pypeline.process_etl('payment', 'fact');
SELECT * FROM check_all();
SELECT id, user_key, school_key, date_key FROM payment_fact WHERE id > 3000 ORDER BY id;

-- ... an error naming an example key ...
UPDATE pypeline.fact SET unmatched = 'error';
\! bash regress/mysql-exec.sh -e "INSERT INTO f_payments VALUES (4001, 998, 1, 1, 1, '2013-08-01')"
SELECT * FROM pypeline.process_etl('payment', 'fact');
SELECT * FROM check_all();
SELECT etl_type, etl_name, value FROM pypeline.watermark;

-- ... or an inferred member, which the dimension's next load completes
UPDATE pypeline.fact SET unmatched = 'inferred';
SELECT * FROM pypeline.process_etl('payment', 'fact');
SELECT * FROM check_all();
SELECT user_key > 0 AS real_key, user_id, email, state, version, is_current, inferred
FROM user_dim WHERE user_id = 998;
\! bash regress/mysql-exec.sh -e "INSERT INTO f_users VALUES (998, 'late@example.edu', 'NV', '2013-09-01')"
SELECT * FROM pypeline.process_etl('user', 'dimension');
SELECT * FROM check_all();
SELECT user_id, email, state, version, is_current, inferred FROM user_dim WHERE user_id = 998;
SELECT count(*) AS facts_of_998 FROM payment_fact f JOIN user_dim u USING (user_key) WHERE u.user_id = 998;

-- rebuilding a dimension alone would orphan the facts' keys: refused
SELECT * FROM pypeline.process_etl('user', 'dimension', delete_existing_table => true);
SELECT * FROM check_all();
SELECT * FROM pypeline.refresh_data_warehouse(run_dimensions => true, run_facts => false,
	delete_existing_tables => true);
-- rebuilt together, the facts point at the new keys
SELECT * FROM pypeline.refresh_data_warehouse(true, true, true);
SELECT * FROM check_all();
SELECT count(*) AS wrong_links FROM payment_fact f JOIN user_dim u USING (user_key)
	WHERE u.user_id <> f.id % 100 + 1 AND f.id <= 1000;

-- definitions are checked
SELECT pypeline.define_fact('bad', 'regress_mysql', 'SELECT 1', 'bad_fact', lookups => '{"nope": "x"}');
SELECT pypeline.define_fact('bad', 'regress_mysql', 'SELECT 1', 'bad_fact', lookups => '["user"]');
SELECT pypeline.define_fact('bad', 'regress_mysql', 'SELECT 1', 'bad_fact', unmatched => 'ignore');
-- a misspelled column fails at definition, when the server answers ...
SELECT pypeline.define_fact('bad', 'regress_mysql', 'SELECT 1 AS x', 'bad_fact', measures => '{y}');
-- ... and at run time, when the source changed since
SELECT pypeline.define_fact('bad', 'regress_mysql', 'SELECT 1 AS x', 'bad_fact', measures => '{x}');
UPDATE pypeline.fact SET source_sql = 'SELECT 1 AS y' WHERE name = 'bad';
SELECT * FROM pypeline.process_etl('bad', 'fact');
SELECT * FROM check_all();
SELECT pypeline.set_active('bad', 'fact', false);
SELECT pypeline.set_active('missing', 'fact', false);
SELECT etl_type, etl_name, active FROM pypeline.etls;

DROP TABLE payment_fact, user_dim, school_dim, date_dim;
DELETE FROM pypeline.fact;
DELETE FROM pypeline.dimension;
DELETE FROM pypeline.run_log;
