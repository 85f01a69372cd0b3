-- MariaDB source of `make bench`, generated with the SEQUENCE engine from
-- deterministic expressions, so every run (and every loader) sees the same
-- data.  run.sh replaces @ROWS@ (BENCH_ROWS) and @FACT_ROWS@ (BENCH_FACT_ROWS).
--
-- users   the dimension source: 12 columns covering the usual mapping
--         (INT UNSIGNED -> bigint, VARCHAR/CHAR -> text, TINYINT(1) -> boolean,
--         DECIMAL(12,2) -> numeric(12,2), SMALLINT UNSIGNED -> integer,
--         DATETIME -> timestamp, DATE -> date), NULLs in five columns, text
--         with quotes, non-ASCII letters, tabs, backslashes and newlines
--         (what a text pipe must escape).  No carriage returns and no text
--         'NULL': the mariadb | psql pipe could not carry those unambiguously.
-- b       a small type 1 dimension (1000 members)
-- events  the fact source: each row references a user, a b and a day

USE bench;
DROP TABLE IF EXISTS users, b, events;

CREATE TABLE users (
	id INT UNSIGNED PRIMARY KEY,
	email VARCHAR(100) NOT NULL,
	name VARCHAR(60),
	note VARCHAR(200),
	state CHAR(2),
	is_active TINYINT(1) NOT NULL,
	balance DECIMAL(12,2),
	score INT,
	visits SMALLINT UNSIGNED,
	signup_at DATETIME,
	birth_date DATE,
	updated_at DATETIME NOT NULL
) ENGINE=InnoDB;

INSERT INTO users
SELECT seq,
	CONCAT('user', seq, '@example.edu'),
	IF(seq % 50 = 0, NULL, CONCAT(ELT(1 + seq % 5, 'Ana', 'Björn', 'Zoë', 'O''Brien', '李小龍'), ' ', seq)),
	IF(seq % 1000 = 7, CONCAT('tab\there, back\\slash, new\nline #', seq), CONCAT('note ', MD5(seq))),
	IF(seq % 97 = 0, NULL, ELT(1 + seq % 4, 'TX', 'CA', 'CO', 'NY')),
	seq % 3 <> 0,
	IF(seq % 53 = 0, NULL, (seq * 7919 % 10000000) / 100),
	CAST(seq * 31 % 2001 AS SIGNED) - 1000,
	seq % 65536,
	IF(seq % 211 = 0, NULL, TIMESTAMP'2015-01-01 00:00:00' + INTERVAL (seq * 37 % 126230400) SECOND),
	DATE'1950-01-01' + INTERVAL (seq % 20000) DAY,
	TIMESTAMP'2015-01-02 00:00:00' + INTERVAL (seq * 37 % 126230400) SECOND
FROM seq_1_to_@ROWS@;

CREATE TABLE b (
	id INT UNSIGNED PRIMARY KEY,
	label VARCHAR(40) NOT NULL,
	region CHAR(2) NOT NULL
) ENGINE=InnoDB;

INSERT INTO b
SELECT seq, CONCAT('b', seq), ELT(1 + seq % 3, 'EU', 'US', 'AS')
FROM seq_1_to_1000;

-- created_at spans 2019-01-01 .. 2021-12-31, so facts fall before and after
-- the type 2 changes that run.sh makes (from 2020-06-02 on).
CREATE TABLE events (
	id BIGINT UNSIGNED PRIMARY KEY,
	user_id INT UNSIGNED NOT NULL,
	b_id INT UNSIGNED NOT NULL,
	amount DECIMAL(10,2) NOT NULL,
	created_at DATETIME NOT NULL
) ENGINE=InnoDB;

INSERT INTO events
SELECT seq,
	1 + (seq * 7919) % @ROWS@,
	1 + seq % 1000,
	(seq % 100000) / 100,
	TIMESTAMP'2019-01-01 00:00:00' + INTERVAL (seq * 1000003 % 94608000) SECOND
FROM seq_1_to_@FACT_ROWS@;
