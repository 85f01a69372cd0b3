-- The MySQL -> PostgreSQL type table of DESIGN section 3, over a real
-- MariaDB table holding each type's edge values (regress/fixtures/source.sql).
SELECT * FROM pypeline.describe('regress_mysql', 'SELECT * FROM types');

-- each value in its mapped type, one column per line
\x on
SELECT * FROM pypeline.query('regress_mysql', 'SELECT * FROM types ORDER BY id') AS t(
	id integer, t_bool boolean, t_tiny smallint, t_tiny_u smallint, t_small smallint,
	t_small_u integer, t_medium integer, t_medium_u integer, t_int integer, t_int_u bigint,
	t_big bigint, t_big_u numeric(20,0), t_dec numeric(65,30), t_money numeric(10,2),
	t_float real, t_double double precision, t_date date, t_datetime timestamp,
	t_timestamp timestamptz, t_time interval, t_year smallint, t_bit1 boolean,
	t_bit10 bit varying(10), t_char text, t_varchar text, t_text text, t_binary bytea,
	t_blob bytea, t_enum text, t_set text[], t_json jsonb);
\x off

-- TIMESTAMP is an instant: the same whatever the session time zone
SET TimeZone = 'America/New_York';
SELECT t_timestamp FROM pypeline.query('regress_mysql',
	'SELECT t_timestamp FROM types WHERE id = 1') AS t(t_timestamp timestamptz);
SELECT t_timestamp AT TIME ZONE 'UTC' AS utc FROM pypeline.query('regress_mysql',
	'SELECT t_timestamp FROM types WHERE id = 1') AS t(t_timestamp timestamptz);
RESET TimeZone;

-- 4-byte UTF-8 arrives intact
SELECT t_text, octet_length(t_text) FROM pypeline.query('regress_mysql',
	'SELECT t_text FROM types WHERE id = 1') AS t(t_text text);

-- unsigned values never wrap: a too-narrow declared type is an error naming the value
SELECT * FROM pypeline.query('regress_mysql',
	'SELECT t_big_u FROM types WHERE id = 1') AS t(t_big_u bigint);
SELECT * FROM pypeline.query('regress_mysql',
	'SELECT t_int_u FROM types WHERE id = 1') AS t(t_int_u integer);

-- zero dates: NULL by default, an error with zero_dates 'error'
ALTER SERVER regress_mysql OPTIONS (ADD zero_dates 'error');
SELECT * FROM pypeline.query('regress_mysql',
	'SELECT id, t_date FROM types WHERE id = 3') AS t(id int, t_date date);
SELECT * FROM pypeline.query('regress_mysql',
	'SELECT id, t_datetime FROM types WHERE id = 4') AS t(id int, t_datetime timestamp);
ALTER SERVER regress_mysql OPTIONS (DROP zero_dates);

-- tinyint1_as_boolean off: TINYINT(1) is a smallint
ALTER SERVER regress_mysql OPTIONS (ADD tinyint1_as_boolean 'false');
SELECT * FROM pypeline.describe('regress_mysql', 'SELECT t_bool FROM types');
SELECT * FROM pypeline.query('regress_mysql',
	'SELECT t_bool FROM types ORDER BY id') AS t(t_bool smallint);
ALTER SERVER regress_mysql OPTIONS (DROP tinyint1_as_boolean);

-- NUL bytes: kept in binary columns, an error naming column and row in text
SELECT id, payload FROM pypeline.query('regress_mysql',
	'SELECT id, payload FROM bad_text ORDER BY id') AS t(id int, payload bytea);
SELECT * FROM pypeline.query('regress_mysql',
	'SELECT id, label FROM bad_text ORDER BY id') AS t(id int, label text);
ALTER SERVER regress_mysql OPTIONS (ADD strip_nul 'true');
SELECT * FROM pypeline.query('regress_mysql',
	'SELECT id, label FROM bad_text ORDER BY id') AS t(id int, label text);
ALTER SERVER regress_mysql OPTIONS (DROP strip_nul);

-- latin1 columns arrive as UTF-8 (MySQL converts to the connection's utf8mb4);
-- text that is not UTF-8 is refused by MariaDB itself before it reaches us
SELECT * FROM pypeline.query('regress_mysql',
	'SELECT id, raw_latin1, HEX(raw_latin1) AS stored FROM bad_text WHERE id = 3') AS t(id int, raw text, stored text);
SELECT * FROM pypeline.query('regress_mysql',
	'SELECT id, _utf8mb4 X''C328'' AS raw FROM bad_text WHERE id = 1') AS t(id int, raw text);
