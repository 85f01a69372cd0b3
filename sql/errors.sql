-- MySQL errors reach the user with the MySQL error number and text, the
-- server name and a SQLSTATE of their own.
\set VERBOSITY default
-- bad SQL
SELECT * FROM pypeline.query('regress_mysql', 'SELECT nope FROM schools') AS t(x int);
SELECT * FROM pypeline.query('regress_mysql', 'SELECT * FROM no_such_table') AS t(x int);
SELECT * FROM pypeline.query('regress_mysql', 'SELECT FROM WHERE') AS t(x int);

-- wrong password, and the password appears nowhere in the message
CREATE SERVER wrong_password FOREIGN DATA WRAPPER pypeline_mysql
	OPTIONS (host '127.0.0.1', dbname 'pypeline_regress');
DO $$ BEGIN
	EXECUTE format('ALTER SERVER wrong_password OPTIONS (ADD port %L)',
	               current_setting('pypeline_regress.mysql_port'));
END $$;
CREATE USER MAPPING FOR CURRENT_USER SERVER wrong_password
	OPTIONS (username 'etl', password 'Sup3rS3cret!');
SELECT * FROM pypeline.query('wrong_password', 'SELECT 1') AS t(x int);
DO $$
BEGIN
	PERFORM * FROM pypeline.query('wrong_password', 'SELECT 1') AS t(x int);
EXCEPTION WHEN invalid_authorization_specification THEN
	RAISE NOTICE 'sqlstate 28000, password in message: %', SQLERRM LIKE '%Sup3rS3cret%';
END $$;

-- a database that does not exist
ALTER USER MAPPING FOR CURRENT_USER SERVER wrong_password OPTIONS (SET password 'etl_secret');
ALTER SERVER wrong_password OPTIONS (SET dbname 'no_such_db');
SELECT * FROM pypeline.query('wrong_password', 'SELECT 1') AS t(x int);

-- nothing listens: refused at once
ALTER SERVER wrong_password OPTIONS (SET port '1', SET dbname 'pypeline_regress');
SELECT * FROM pypeline.query('wrong_password', 'SELECT 1') AS t(x int);
DROP SERVER wrong_password CASCADE;

-- a grant missing on the MySQL side
CREATE SERVER as_reader FOREIGN DATA WRAPPER pypeline_mysql OPTIONS (dbname 'pypeline_regress');
DO $$ BEGIN
	EXECUTE format('ALTER SERVER as_reader OPTIONS (ADD port %L)',
	               current_setting('pypeline_regress.mysql_port'));
END $$;
CREATE USER MAPPING FOR CURRENT_USER SERVER as_reader
	OPTIONS (username 'reader', password 'reader_secret');
SELECT count(*) FROM pypeline.query('as_reader', 'SELECT id FROM schools') AS t(id int);
SELECT count(*) FROM pypeline.query('as_reader', 'SELECT id FROM users') AS t(id int);
DROP SERVER as_reader CASCADE;

-- errors are catchable and leave the session usable
DO $$
BEGIN
	PERFORM * FROM pypeline.query('regress_mysql', 'SELECT nope') AS t(x int);
EXCEPTION WHEN OTHERS THEN
	RAISE NOTICE 'caught %', SQLSTATE;
END $$;
SELECT x FROM pypeline.query('regress_mysql', 'SELECT 7') AS t(x int);
