-- Flashnotes data warehouse: the ETL definitions.
--
-- This file is what the old tool spread over config.py (which ETLs exist,
-- their order, on/off), sources.py (the MySQL source queries), creates.py
-- (target DDL), dimensions.py and facts.py (keys, SCD types, lookups).
-- Run it with psql in the warehouse database, after
--
--     CREATE EXTENSION pypeline;
--     CREATE SERVER flashnotes FOREIGN DATA WRAPPER pypeline_mysql
--       OPTIONS (host '127.0.0.1', port '3306', dbname 'flashnotes');
--     CREATE USER MAPPING FOR CURRENT_USER SERVER flashnotes
--       OPTIONS (username 'etl', password '...');
--
-- It creates no server and no user mapping, so it works against any MariaDB
-- or MySQL database loaded from schema.sql.  Every define_* call is an
-- upsert: re-running the file updates the definitions in place and keeps
-- their order.  Nothing is loaded here; then run
--
--     SELECT * FROM pypeline.refresh_data_warehouse(true, true, true);
--
-- Dimensions run in the order they are defined below (the old config.py
-- order), then the fact.  Source columns are aliased to the names the
-- warehouse uses: a dimension's natural key column is <name>_id, and its
-- surrogate key is <name>_key (the default), which is also the fact's
-- column for it.

BEGIN;

-------------------------------------------------------------------------------
-- Dimensions
-------------------------------------------------------------------------------

-- Notes, study guides and flashcards for sale.  Type 1: a corrected title or
-- a new list price overwrites the old one (the price actually paid is a fact
-- measure).
SELECT pypeline.define_dimension('product', 'flashnotes',
	$src$
	SELECT p.id         AS product_id,
	       p.title,
	       p.kind,
	       p.price,
	       p.course_id,
	       c.code       AS course_code,
	       p.user_id    AS seller_user_id,
	       p.created_at
	  FROM products p
	  JOIN courses c ON c.id = p.course_id
	$src$,
	'product_dim', natural_key => '{product_id}');

-- Buyers and sellers.  Type 2: a move to another state or school starts a
-- new version, valid from the source's updated_at (facts find the version
-- of their own time); an e-mail address is corrected on every version.
SELECT pypeline.define_dimension('user', 'flashnotes',
	$src$
	SELECT id AS user_id,
	       email,
	       first_name,
	       last_name,
	       school_id,
	       state,
	       is_seller,
	       created_at,
	       updated_at
	  FROM users
	$src$,
	'user_dim', natural_key => '{user_id}',
	scd_type => 2, type1_columns => '{email}', change_date_column => 'updated_at');

-- Courses, with their school's name denormalised for reporting.  Type 1.
SELECT pypeline.define_dimension('course', 'flashnotes',
	$src$
	SELECT c.id      AS course_id,
	       c.code,
	       c.title,
	       c.department,
	       c.school_id,
	       s.name    AS school_name
	  FROM courses c
	  JOIN schools s ON s.id = c.school_id
	$src$,
	'course_dim', natural_key => '{course_id}');

-- The calendar: 2191 days, key YYYYMMDD, generated (no source query).
SELECT pypeline.define_date_dimension('date', 'date_dim', '2010-01-01', '2015-12-31');

-- Schools.  Type 1: a renamed school is renamed in every report.  state is
-- NULL for the schools outside the US.
SELECT pypeline.define_dimension('school', 'flashnotes',
	$src$
	SELECT id AS school_id, name, city, state
	  FROM schools
	$src$,
	'school_dim', natural_key => '{school_id}');

-- Small reference dimensions.
SELECT pypeline.define_dimension('payment_source', 'flashnotes',
	'SELECT id AS payment_source_id, name FROM payment_sources',
	'payment_source_dim', natural_key => '{payment_source_id}');

SELECT pypeline.define_dimension('disability_program', 'flashnotes',
	'SELECT id AS disability_program_id, name FROM disability_programs',
	'disability_program_dim', natural_key => '{disability_program_id}');

SELECT pypeline.define_dimension('affiliate', 'flashnotes',
	'SELECT id AS affiliate_id, name, commission_rate FROM affiliates',
	'affiliate_dim', natural_key => '{affiliate_id}');

SELECT pypeline.define_dimension('site', 'flashnotes',
	'SELECT id AS site_id, name, domain FROM sites',
	'site_dim', natural_key => '{site_id}');

-------------------------------------------------------------------------------
-- Facts
-------------------------------------------------------------------------------

-- One row per payment.  Each lookup names a dimension and the source column
-- holding its natural key; created_at is the event time, so the user of a
-- payment is the version of that user valid when it was made, and the date
-- lookup takes the day of created_at.  A payment without affiliate
-- (affiliate_id NULL) gets the unknown affiliate, key -1.  Loads after the
-- first read only payments with an id past the last one loaded.
--
-- The target is written out (the old creates.py) to keep payment_id a bigint
-- (the source's BIGINT UNSIGNED would map to numeric(20)) and to make it the
-- primary key, so a payment can never be loaded twice.
SELECT pypeline.define_fact('payment', 'flashnotes',
	$src$
	SELECT id AS payment_id,
	       user_id,
	       product_id,
	       school_id,
	       payment_source_id,
	       affiliate_id,
	       site_id,
	       quantity,
	       amount,
	       created_at
	  FROM payments
	$src$,
	'payment_fact',
	lookups => '{"date": "created_at", "user": "user_id", "product": "product_id",
	             "school": "school_id", "payment_source": "payment_source_id",
	             "affiliate": "affiliate_id", "site": "site_id"}',
	measures => '{quantity, amount}',
	degenerate_columns => '{payment_id}',
	event_time_column => 'created_at',
	incremental_column => 'payment_id',
	target_ddl => $ddl$
	CREATE TABLE payment_fact (
		payment_id         bigint        PRIMARY KEY,
		date_key           integer       NOT NULL,
		user_key           bigint        NOT NULL,
		product_key        bigint        NOT NULL,
		school_key         bigint        NOT NULL,
		payment_source_key bigint        NOT NULL,
		affiliate_key      bigint        NOT NULL,
		site_key           bigint        NOT NULL,
		quantity           integer       NOT NULL,
		amount             numeric(10,2) NOT NULL
	)
	$ddl$);

COMMIT;
