-- The validator of pypeline_mysql: known options only, values checked,
-- credentials only on user mappings.
CREATE SERVER bad FOREIGN DATA WRAPPER pypeline_mysql OPTIONS (hostname 'x');
CREATE SERVER bad FOREIGN DATA WRAPPER pypeline_mysql OPTIONS (password 'secret');
CREATE SERVER bad FOREIGN DATA WRAPPER pypeline_mysql OPTIONS (port 'many');
CREATE SERVER bad FOREIGN DATA WRAPPER pypeline_mysql OPTIONS (port '70000');
CREATE SERVER bad FOREIGN DATA WRAPPER pypeline_mysql OPTIONS (ssl_mode 'sometimes');
CREATE SERVER bad FOREIGN DATA WRAPPER pypeline_mysql OPTIONS (zero_dates 'epoch');
CREATE SERVER bad FOREIGN DATA WRAPPER pypeline_mysql OPTIONS (tinyint1_as_boolean 'perhaps');
CREATE SERVER bad FOREIGN DATA WRAPPER pypeline_mysql OPTIONS (charset 'latin1');
CREATE SERVER ok_server FOREIGN DATA WRAPPER pypeline_mysql
	OPTIONS (host 'db.example', port '3307', dbname 'x', charset 'utf8mb4',
	         ssl_mode 'verify_ca', connect_timeout '3', read_timeout '60',
	         fetch_size '500', tinyint1_as_boolean 'false', zero_dates 'error',
	         strip_nul 'true');
CREATE USER MAPPING FOR CURRENT_USER SERVER ok_server OPTIONS (host 'x');
CREATE USER MAPPING FOR CURRENT_USER SERVER ok_server OPTIONS (username 'u', password 'p');
ALTER SERVER ok_server OPTIONS (SET port '0');

-- a server of another wrapper is refused by name
CREATE FOREIGN DATA WRAPPER other_fdw;
CREATE SERVER other_server FOREIGN DATA WRAPPER other_fdw;
SELECT * FROM pypeline.query('other_server', 'SELECT 1') AS t(x int);
SELECT * FROM pypeline.query('no_such_server', 'SELECT 1') AS t(x int);

-- a mapping without username
CREATE SERVER nouser FOREIGN DATA WRAPPER pypeline_mysql;
CREATE USER MAPPING FOR CURRENT_USER SERVER nouser;
SELECT * FROM pypeline.query('nouser', 'SELECT 1') AS t(x int);

-- Non-superusers: no mapping, no usage, no password.
CREATE ROLE regress_analyst LOGIN;
SET ROLE regress_analyst;
SELECT * FROM pypeline.query('regress_mysql', 'SELECT 1') AS t(x int);
RESET ROLE;
GRANT USAGE ON FOREIGN SERVER regress_mysql TO regress_analyst;
SET ROLE regress_analyst;
SELECT * FROM pypeline.query('regress_mysql', 'SELECT 1') AS t(x int);
RESET ROLE;
CREATE USER MAPPING FOR regress_analyst SERVER regress_mysql OPTIONS (username 'etl');
SET ROLE regress_analyst;
SELECT * FROM pypeline.query('regress_mysql', 'SELECT 1') AS t(x int);
-- the password is not readable by other roles
SELECT srvname, umoptions FROM pg_user_mappings WHERE srvname = 'regress_mysql' ORDER BY usename;
RESET ROLE;
ALTER USER MAPPING FOR regress_analyst SERVER regress_mysql OPTIONS (ADD password 'etl_secret');
SET ROLE regress_analyst;
SELECT * FROM pypeline.query('regress_mysql', 'SELECT 41 + 1') AS t(x int);
RESET ROLE;

DROP USER MAPPING FOR regress_analyst SERVER regress_mysql;
REVOKE USAGE ON FOREIGN SERVER regress_mysql FROM regress_analyst;
DROP ROLE regress_analyst;
DROP SERVER ok_server CASCADE;
DROP SERVER nouser CASCADE;
DROP SERVER other_server;
DROP FOREIGN DATA WRAPPER other_fdw;

-- The settings, as SHOW gives them in a new session that preloads the library
-- (README, Settings): without the preload they exist once pypeline is loaded.
\! PGOPTIONS='-c session_preload_libraries=pypeline' psql -X -At -d contrib_regression -c 'SHOW pypeline.fetch_size' -c 'SHOW pypeline.max_parallel_etls' -c 'SHOW pypeline.max_queued_tasks'
