-- What change data capture needs from a MySQL server and its account,
-- checked with the caller's own user mapping (doc/design.md, "Change data
-- capture").  The harness's MariaDB writes a row-based binary log with full
-- row images (regress/servers.sh).

-- The fixture's account may only SELECT: the log is there, the account may
-- not read it, and each missing grant is named with the statement to run.
SELECT * FROM pypeline.capture_requirements('regress_mysql');

-- an account with the replication grants meets every requirement
\! bash regress/mysql-exec.sh -e "CREATE USER capture@'%' IDENTIFIED BY 'capture_secret'; GRANT SELECT ON pypeline_regress.* TO capture@'%'; GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO capture@'%'"
DO $$ BEGIN
	EXECUTE format('CREATE SERVER capture_mysql FOREIGN DATA WRAPPER pypeline_mysql
	                OPTIONS (host %L, port %L, dbname %L)',
	               '127.0.0.1', current_setting('pypeline_regress.mysql_port'), 'pypeline_regress');
END $$;
CREATE USER MAPPING FOR CURRENT_USER SERVER capture_mysql
	OPTIONS (username 'capture', password 'capture_secret');
SELECT * FROM pypeline.capture_requirements('capture_mysql');

-- a statement-based log, or one without full row images, is named with the fix
\! bash regress/mysql-exec.sh -e "SET GLOBAL binlog_format = 'MIXED'; SET GLOBAL binlog_row_image = 'MINIMAL'"
SELECT requirement, met, detail FROM pypeline.capture_requirements('capture_mysql') WHERE NOT met;
\! bash regress/mysql-exec.sh -e "SET GLOBAL binlog_format = 'ROW'; SET GLOBAL binlog_row_image = 'FULL'"
SELECT bool_and(met) AS all_met FROM pypeline.capture_requirements('capture_mysql');

-- another role reaches the server only through a mapping of its own:
-- USAGE alone does not lend it this one's account
CREATE ROLE regress_capture_analyst;
GRANT USAGE ON FOREIGN SERVER capture_mysql TO regress_capture_analyst;
SET ROLE regress_capture_analyst;
SELECT * FROM pypeline.capture_requirements('capture_mysql');
RESET ROLE;
REVOKE USAGE ON FOREIGN SERVER capture_mysql FROM regress_capture_analyst;
SET ROLE regress_capture_analyst;
SELECT * FROM pypeline.capture_requirements('capture_mysql');
RESET ROLE;

-- NULL and unknown names
SELECT * FROM pypeline.capture_requirements(NULL);
SELECT * FROM pypeline.capture_requirements('no_such_server');

DROP ROLE regress_capture_analyst;
DROP SERVER capture_mysql CASCADE;
\! bash regress/mysql-exec.sh -e "DROP USER capture@'%'"
