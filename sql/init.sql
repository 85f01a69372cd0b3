-- Shared set-up for the regression tests: the extension, the MariaDB server
-- started by regress/check.sh (its port comes from a custom setting) and a
-- user mapping with the fixture's ETL account.
CREATE EXTENSION pypeline;
\dx pypeline
DO $$
BEGIN
	EXECUTE format('CREATE SERVER regress_mysql FOREIGN DATA WRAPPER pypeline_mysql
	                OPTIONS (host %L, port %L, dbname %L)',
	               '127.0.0.1', current_setting('pypeline_regress.mysql_port'), 'pypeline_regress');
	EXECUTE format('CREATE SERVER regress_socket FOREIGN DATA WRAPPER pypeline_mysql
	                OPTIONS (socket %L, dbname %L)',
	               current_setting('pypeline_regress.mysql_socket'), 'pypeline_regress');
END $$;
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_mysql
	OPTIONS (username 'etl', password 'etl_secret');
CREATE USER MAPPING FOR CURRENT_USER SERVER regress_socket
	OPTIONS (username 'etl', password 'etl_secret');
SELECT count(*) FROM pypeline.query('regress_mysql', 'SELECT 1') AS t(one int);
SELECT count(*) FROM pypeline.query('regress_socket', 'SELECT 1') AS t(one int);

-- Failed runs reach pypeline.run_log through a worker of their own, a moment
-- after the error: tests wait for the row (5 s at most).
CREATE FUNCTION wait_for_failed_run(etl text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..100 LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM pypeline.run_log WHERE status = 'failure' AND etl_name = etl);
		PERFORM pg_sleep(0.05);
	END LOOP;
END $$;

-- The tests check every ETL's invariants after their runs: no rows, none
-- violated (pypeline.check_dimension, pypeline.check_fact).
CREATE FUNCTION check_all() RETURNS TABLE (etl text, invariant text, violations bigint, example text)
LANGUAGE plpgsql AS $$
DECLARE
	e record;
BEGIN
	FOR e IN SELECT * FROM (SELECT 'dimension' AS etl_type, name AS etl_name, target_schema, target_table
	                        FROM pypeline.dimension
	                        UNION ALL
	                        SELECT 'fact', name, target_schema, target_table FROM pypeline.fact) t
	         WHERE to_regclass(format('%I.%I', target_schema, target_table)) IS NOT NULL
	         ORDER BY 1, 2 LOOP
		IF e.etl_type = 'dimension' THEN
			RETURN QUERY SELECT e.etl_name, c.* FROM pypeline.check_dimension(e.etl_name) c;
		ELSE
			RETURN QUERY SELECT e.etl_name, c.* FROM pypeline.check_fact(e.etl_name) c;
		END IF;
	END LOOP;
END $$;
