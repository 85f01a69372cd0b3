-- pypeline.query streams a read-only query; pypeline.describe maps its columns.
SELECT * FROM pypeline.query('regress_mysql',
	'SELECT id, name, state FROM schools ORDER BY id') AS t(id bigint, name text, state text);

-- values go straight into the declared column types, never truncated
SELECT * FROM pypeline.query('regress_mysql',
	'SELECT id, name FROM schools WHERE id = 993') AS t(id text, name varchar(8));
SELECT pg_typeof(id), id FROM pypeline.query('regress_mysql',
	'SELECT id FROM schools WHERE id = 993') AS t(id numeric);

-- a large result streams through (SEQUENCE engine on the MariaDB side)
SELECT count(*), sum(seq) FROM pypeline.query('regress_mysql',
	'SELECT seq FROM seq_1_to_200000') AS t(seq bigint);

SELECT * FROM pypeline.describe('regress_mysql', 'SELECT id, name, state, updated_at FROM schools');

-- the column definition list must match the query
SELECT * FROM pypeline.query('regress_mysql', 'SELECT id, name FROM schools') AS t(id int);

-- only read-only statements are sent
SELECT * FROM pypeline.query('regress_mysql', 'DELETE FROM schools') AS t(x int);
SELECT * FROM pypeline.query('regress_mysql', '/* comment */ drop table schools') AS t(x int);
SELECT * FROM pypeline.query('regress_mysql', '  -- note
  SELECT 1') AS t(x int);
SELECT * FROM pypeline.query('regress_mysql', '(SELECT 2)') AS t(x int);
SELECT * FROM pypeline.describe('regress_mysql', 'INSERT INTO schools VALUES (1, ''x'', ''y'', now())');
-- a query that returns no rows
SELECT count(*) FROM pypeline.query('regress_mysql', 'SELECT id FROM schools WHERE false') AS t(id int);
-- the MySQL transaction is read-only: even a locking read is refused
SELECT count(*) FROM pypeline.query('regress_mysql', 'SELECT id FROM schools FOR UPDATE') AS t(id int);
-- the connection's time zone is UTC whatever the MySQL default
SELECT * FROM pypeline.query('regress_mysql', 'SELECT @@session.time_zone') AS t(tz text);
