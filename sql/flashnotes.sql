-- The Flashnotes sample warehouse (make demo) end to end, on a small source:
-- contrib/flashnotes/etl.sql must define, load and incrementally refresh it,
-- and every fact row must point at the right dimension rows.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

-- The source: its own MariaDB database, filled by the sample's scripts.
\! bash regress/mysql-exec.sh -e "DROP DATABASE IF EXISTS flashnotes_regress; CREATE DATABASE flashnotes_regress CHARACTER SET utf8mb4; GRANT SELECT ON flashnotes_regress.* TO etl@'%'; GRANT SELECT ON flashnotes_regress.* TO etl@localhost"
\! (echo 'USE flashnotes_regress;'; cat contrib/flashnotes/schema.sql) | bash regress/mysql-exec.sh
\! (echo 'USE flashnotes_regress; SET @users = 100, @payments = 1000;'; cat contrib/flashnotes/generate.sql) | bash regress/mysql-exec.sh
DO $$
BEGIN
	EXECUTE format('CREATE SERVER flashnotes FOREIGN DATA WRAPPER pypeline_mysql
	                OPTIONS (host %L, port %L, dbname %L)',
	               '127.0.0.1', current_setting('pypeline_regress.mysql_port'), 'flashnotes_regress');
END $$;
CREATE USER MAPPING FOR CURRENT_USER SERVER flashnotes
	OPTIONS (username 'etl', password 'etl_secret');

-- The definitions (not echoed: comments in the file may change freely).
\set ECHO none
\i contrib/flashnotes/etl.sql
\set ECHO all
SELECT etl_type, etl_name, kind, server, target FROM pypeline.etls ORDER BY etl_type, position;
SELECT * FROM pypeline.test_dimension_source() ORDER BY etl_name;

-- Full load
SELECT * FROM pypeline.refresh_data_warehouse(true, true, true);
SELECT * FROM check_all();
\d payment_fact

-- Members per table (the unknown member, key -1, aside)
SELECT 'product_dim' AS target, count(*) FILTER (WHERE product_key > 0) AS members,
       count(*) FILTER (WHERE product_key = -1) AS unknown FROM product_dim
UNION ALL SELECT 'user_dim', count(*) FILTER (WHERE user_key > 0), count(*) FILTER (WHERE user_key = -1) FROM user_dim
UNION ALL SELECT 'course_dim', count(*) FILTER (WHERE course_key > 0), count(*) FILTER (WHERE course_key = -1) FROM course_dim
UNION ALL SELECT 'date_dim', count(*) FILTER (WHERE date_key > 0), count(*) FILTER (WHERE date_key = -1) FROM date_dim
UNION ALL SELECT 'school_dim', count(*) FILTER (WHERE school_key > 0), count(*) FILTER (WHERE school_key = -1) FROM school_dim
UNION ALL SELECT 'payment_source_dim', count(*) FILTER (WHERE payment_source_key > 0), count(*) FILTER (WHERE payment_source_key = -1) FROM payment_source_dim
UNION ALL SELECT 'disability_program_dim', count(*) FILTER (WHERE disability_program_key > 0), count(*) FILTER (WHERE disability_program_key = -1) FROM disability_program_dim
UNION ALL SELECT 'affiliate_dim', count(*) FILTER (WHERE affiliate_key > 0), count(*) FILTER (WHERE affiliate_key = -1) FROM affiliate_dim
UNION ALL SELECT 'site_dim', count(*) FILTER (WHERE site_key > 0), count(*) FILTER (WHERE site_key = -1) FROM site_dim
UNION ALL SELECT 'payment_fact', count(*), NULL FROM payment_fact
ORDER BY 1;
SELECT min(date), max(date), count(DISTINCT date) FROM date_dim;
-- non-ASCII text arrives intact
SELECT school_id, name, city, state FROM school_dim WHERE school_id IN (14, 24, 28, 29) ORDER BY school_id;
SELECT count(*) AS titles_with_books FROM product_dim WHERE title LIKE '%📚';

-- Every payment is in the fact, once, and each key points at the member of
-- the payment's natural key (the user: at the version valid when it was made).
-- A payment without affiliate gets the unknown affiliate; nothing else does.
CREATE TEMP VIEW source_payments AS
	SELECT * FROM pypeline.query('flashnotes',
		'SELECT id, user_id, product_id, school_id, payment_source_id, affiliate_id, site_id,
		        quantity, amount, created_at FROM payments')
	AS p(id bigint, user_id bigint, product_id bigint, school_id bigint, payment_source_id bigint,
	     affiliate_id bigint, site_id bigint, quantity integer, amount numeric, created_at timestamp);
-- (a function, not a view: a view on the tables would keep the full rebuild
-- below from dropping them)
CREATE FUNCTION pg_temp.payment_check()
RETURNS TABLE (payments bigint, in_fact bigint, wrong_user bigint, wrong_product bigint,
	wrong_school bigint, wrong_date bigint, wrong_source bigint, wrong_affiliate bigint,
	wrong_site bigint, wrong_measures bigint, without_affiliate bigint)
LANGUAGE sql AS $$
	SELECT count(*) AS payments,
	       count(f.payment_id) AS in_fact,
	       count(*) FILTER (WHERE u.user_id IS DISTINCT FROM p.user_id
	                        OR NOT (p.created_at AT TIME ZONE 'UTC' >= u.valid_from
	                                AND p.created_at AT TIME ZONE 'UTC' < u.valid_to)) AS wrong_user,
	       count(*) FILTER (WHERE pr.product_id IS DISTINCT FROM p.product_id) AS wrong_product,
	       count(*) FILTER (WHERE s.school_id IS DISTINCT FROM p.school_id) AS wrong_school,
	       count(*) FILTER (WHERE d.date IS DISTINCT FROM p.created_at::date) AS wrong_date,
	       count(*) FILTER (WHERE ps.payment_source_id IS DISTINCT FROM p.payment_source_id) AS wrong_source,
	       count(*) FILTER (WHERE a.affiliate_id IS DISTINCT FROM p.affiliate_id
	                        OR (f.affiliate_key = -1) <> (p.affiliate_id IS NULL)) AS wrong_affiliate,
	       count(*) FILTER (WHERE si.site_id IS DISTINCT FROM p.site_id) AS wrong_site,
	       count(*) FILTER (WHERE f.amount IS DISTINCT FROM p.amount
	                        OR f.quantity IS DISTINCT FROM p.quantity) AS wrong_measures,
	       count(*) FILTER (WHERE p.affiliate_id IS NULL) AS without_affiliate
	FROM source_payments p
	LEFT JOIN payment_fact f ON f.payment_id = p.id
	LEFT JOIN user_dim u USING (user_key)
	LEFT JOIN product_dim pr USING (product_key)
	LEFT JOIN school_dim s USING (school_key)
	LEFT JOIN date_dim d USING (date_key)
	LEFT JOIN payment_source_dim ps USING (payment_source_key)
	LEFT JOIN affiliate_dim a USING (affiliate_key)
	LEFT JOIN site_dim si USING (site_key)
$$;
SELECT * FROM pg_temp.payment_check();
SELECT count(*) AS facts, count(DISTINCT payment_id) AS payments, sum(amount) AS amount,
       sum(quantity) AS quantity
FROM payment_fact;
SELECT etl_type, etl_name, value FROM pypeline.watermark;

-- Source changes, then an incremental refresh
\! (echo 'USE flashnotes_regress;'; cat contrib/flashnotes/changes.sql) | bash regress/mysql-exec.sh
SELECT coalesce(max(id), 0) AS last_run FROM pypeline.run_log \gset
SELECT * FROM pypeline.refresh_data_warehouse(true, true, false);
SELECT * FROM check_all();
SELECT etl_type, etl_name, target, rows_read, rows_inserted, rows_updated, rows_unchanged, status
FROM pypeline.run_log WHERE id > :last_run AND status = 'success' ORDER BY id;

-- type 2: the ten users who moved have a closed first version and a current
-- second one from the source's updated_at; nobody else got a version
SELECT user_id, state, valid_from, valid_to, version, is_current
FROM user_dim WHERE user_id IN (10, 20, 100) ORDER BY user_id, version;
SELECT count(*) AS versions, count(*) FILTER (WHERE is_current) AS current,
       count(DISTINCT user_id) FILTER (WHERE version = 2) AS moved,
       array_agg(user_id ORDER BY user_id) FILTER (WHERE version = 2) AS moved_users
FROM user_dim WHERE user_key > 0;
-- type 1 inside type 2: the new e-mail addresses on the only version
SELECT user_id, email, version, is_current FROM user_dim
WHERE user_id IN (5, 17, 29, 41, 53) ORDER BY user_id;
-- type 1: renamed schools keep their key; new schools are added
SELECT school_key, school_id, name, state FROM school_dim
WHERE school_id IN (21, 22) OR school_id > 1687 ORDER BY school_id;
SELECT count(*) AS courses_renamed FROM course_dim
WHERE school_name IN ('Augusta University', 'Stockton University');

-- the 100 new payments; those of the ten movers, made before they moved,
-- point at the users' old versions
SELECT count(*) AS new_facts, sum(amount) AS amount, sum(quantity) AS quantity
FROM payment_fact WHERE payment_id > 1000;
SELECT f.payment_id, u.user_id, u.state, u.version, u.is_current, d.date
FROM payment_fact f JOIN user_dim u USING (user_key) JOIN date_dim d USING (date_key)
WHERE f.payment_id BETWEEN 1001 AND 1010 ORDER BY f.payment_id;
SELECT * FROM pg_temp.payment_check();
SELECT etl_type, etl_name, value FROM pypeline.watermark;

-- a second incremental refresh finds nothing new
SELECT coalesce(max(id), 0) AS last_run FROM pypeline.run_log \gset
SELECT * FROM pypeline.refresh_data_warehouse(true, true, false);
SELECT * FROM check_all();
SELECT etl_name, rows_inserted, rows_updated FROM pypeline.run_log
WHERE id > :last_run AND status = 'success' AND (rows_inserted > 0 OR rows_updated > 0) ORDER BY id;
SELECT count(*) AS versions FROM user_dim WHERE user_key > 0;
SELECT count(*) AS facts FROM payment_fact;

-- a star-join report: revenue by school state in 2015
SELECT coalesce(s.state, '--') AS state, count(*) AS payments, sum(f.quantity) AS copies,
       sum(f.amount) AS revenue
FROM payment_fact f
JOIN date_dim d USING (date_key)
JOIN school_dim s USING (school_key)
WHERE d.year = 2015
GROUP BY 1
ORDER BY revenue DESC, state;

-- a full rebuild (what the demo runs first) drops and reloads every table:
-- the history of type 2 starts again from the source's current state
SELECT * FROM pypeline.refresh_data_warehouse(true, true, true);
SELECT * FROM check_all();
SELECT count(*) AS versions, count(*) FILTER (WHERE is_current) AS current FROM user_dim WHERE user_key > 0;
SELECT * FROM pg_temp.payment_check();
SELECT etl_type, etl_name, value FROM pypeline.watermark;

-- Clean up for the tests that follow
DROP FUNCTION pg_temp.payment_check();
DROP VIEW source_payments;
DROP TABLE payment_fact, product_dim, user_dim, course_dim, date_dim, school_dim,
	payment_source_dim, disability_program_dim, affiliate_dim, site_dim;
DELETE FROM pypeline.watermark;
DELETE FROM pypeline.fact;
DELETE FROM pypeline.dimension;
DELETE FROM pypeline.run_log;
DROP USER MAPPING FOR CURRENT_USER SERVER flashnotes;
DROP SERVER flashnotes;
\! bash regress/mysql-exec.sh -e "REVOKE SELECT ON flashnotes_regress.* FROM etl@'%'; REVOKE SELECT ON flashnotes_regress.* FROM etl@localhost; DROP DATABASE flashnotes_regress"
RESET timezone;
RESET datestyle;
