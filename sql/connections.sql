-- Connections never leak: after errors and early ends, the only connection
-- of the ETL account left on MariaDB is the one asking.
-- (a killed connection takes a moment to leave the process list: poll for 5 s)
CREATE FUNCTION etl_connections() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	FOR attempt IN 1..50 LOOP
		SELECT c INTO n FROM pypeline.query('regress_mysql',
			'SELECT COUNT(*) FROM information_schema.processlist WHERE user = ''etl''') AS t(c bigint);
		EXIT WHEN n = 1;
		PERFORM pg_sleep(0.1);
	END LOOP;
	RETURN n;
END $$;
SELECT etl_connections();

-- failing queries, caught or not
SELECT * FROM pypeline.query('regress_mysql', 'SELECT nope') AS t(x int);
SELECT * FROM pypeline.query('regress_mysql', 'SELECT id, label FROM bad_text') AS t(id int, label text);
DO $$
BEGIN
	PERFORM * FROM pypeline.query('regress_mysql', 'SELECT nope') AS t(x int);
EXCEPTION WHEN OTHERS THEN NULL;
END $$;
SELECT etl_connections();

-- a failure in the middle of a long result: the MySQL side query is killed
SELECT count(*) FROM pypeline.query('regress_mysql',
	'SELECT IF(seq = 50000, ''bad'', seq) FROM seq_1_to_5000000') AS t(x int);
SELECT etl_connections();

-- several in one transaction, then a rollback
BEGIN;
SELECT count(*) FROM pypeline.query('regress_mysql', 'SELECT 1') AS t(x int);
SELECT count(*) FROM pypeline.query('regress_mysql', 'SELECT 1') AS t(x int);
ROLLBACK;
SELECT etl_connections();

-- statement_timeout stops a long MySQL query, which is then killed on MariaDB
SET statement_timeout = '1s';
SELECT * FROM pypeline.query('regress_mysql', 'SELECT SLEEP(30)') AS t(x int);
RESET statement_timeout;
SELECT etl_connections();
SELECT count(*) AS sleeping FROM pypeline.query('regress_mysql',
	'SELECT id FROM information_schema.processlist WHERE info LIKE ''SELECT SLEEP(30)%''') AS t(id bigint);

-- read_timeout bounds a stalled read
ALTER SERVER regress_mysql OPTIONS (ADD read_timeout '1');
SELECT * FROM pypeline.query('regress_mysql', 'SELECT SLEEP(5)') AS t(x int);
ALTER SERVER regress_mysql OPTIONS (DROP read_timeout);
SELECT etl_connections();
DROP FUNCTION etl_connections();
