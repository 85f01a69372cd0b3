-- pypeline: Kimball star schema loads from MySQL/MariaDB sources.
\echo Use "CREATE EXTENSION pypeline" to load this file. \quit

-------------------------------------------------------------------------------
-- Sources: a foreign-data wrapper with a validator only (like dblink_fdw).
-------------------------------------------------------------------------------
CREATE FUNCTION pypeline.mysql_fdw_validator(options text[], catalog oid)
RETURNS void
AS 'MODULE_PATHNAME', 'pypeline_mysql_validator'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER pypeline_mysql VALIDATOR pypeline.mysql_fdw_validator;

CREATE FUNCTION pypeline.query(server name, sql text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pypeline_query'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION pypeline.query(name, text) IS
'Rows of a read-only query on a pypeline_mysql server: SELECT * FROM pypeline.query(''srv'', ''SELECT ...'') AS t(col type, ...)';

CREATE FUNCTION pypeline.describe(server name, sql text,
	OUT "position" int, OUT column_name text, OUT mysql_type text, OUT pg_type text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pypeline_describe'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION pypeline.describe(name, text) IS
'Columns of a MySQL query with their MySQL type and the PostgreSQL type pypeline loads them as (the query is prepared, not run)';

-- Anyone may call the functions; what they reach is still governed by USAGE
-- on each foreign server, their own user mapping and their table privileges.
GRANT USAGE ON SCHEMA pypeline TO PUBLIC;

-------------------------------------------------------------------------------
-- ETL definitions (the old config.py, sources.py, creates.py, dimensions.py,
-- facts.py).  Plain tables, dumped by pg_dump; helpers below fill them.
-------------------------------------------------------------------------------
CREATE TABLE pypeline.dimension (
	name text PRIMARY KEY,
	position serial NOT NULL,			-- definition order: the run order
	server name,						-- NULL for generated dimensions
	source_sql text,
	target text NOT NULL,
	natural_key text[] NOT NULL CHECK (cardinality(natural_key) > 0),
	surrogate_key text NOT NULL,
	scd_type int NOT NULL DEFAULT 1 CHECK (scd_type IN (0, 1, 2)),
	type1_columns text[] NOT NULL DEFAULT '{}',
	change_date_column text,
	target_ddl text,
	generator text CHECK (generator IN ('date')),
	first_date date,
	last_date date,
	beginning_of_time timestamptz NOT NULL DEFAULT '-infinity',
	end_of_time timestamptz NOT NULL DEFAULT 'infinity',
	on_bad_key text NOT NULL DEFAULT 'error' CHECK (on_bad_key IN ('error', 'reject')),
	column_rules jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(column_rules) = 'object'),
	deletes text NOT NULL DEFAULT 'ignore' CHECK (deletes IN ('ignore', 'invalidate', 'new_record')),
	max_closed_fraction numeric NOT NULL DEFAULT 0.2 CHECK (max_closed_fraction BETWEEN 0 AND 1),
	schema_changes text NOT NULL DEFAULT 'fail' CHECK (schema_changes IN ('fail', 'add_type1', 'add_type2')),
	incremental_column text,
	active boolean NOT NULL DEFAULT true,
	defined_at timestamptz NOT NULL DEFAULT now(),
	CHECK ((generator IS NULL) = (server IS NOT NULL AND source_sql IS NOT NULL)),
	CHECK (scd_type = 2 OR (type1_columns = '{}' AND change_date_column IS NULL AND deletes = 'ignore')),
	CHECK (incremental_column IS NULL OR deletes = 'ignore')
);

CREATE TABLE pypeline.fact (
	name text PRIMARY KEY,
	position serial NOT NULL,
	server name NOT NULL,
	source_sql text NOT NULL,
	target text NOT NULL,
	lookups jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(lookups) = 'object'),
	measures text[] NOT NULL DEFAULT '{}',
	degenerate_columns text[] NOT NULL DEFAULT '{}',
	event_time_column text,
	incremental_column text,
	unmatched text NOT NULL DEFAULT 'unknown' CHECK (unmatched IN ('unknown', 'inferred', 'error')),
	target_ddl text,
	active boolean NOT NULL DEFAULT true,
	defined_at timestamptz NOT NULL DEFAULT now()
);

-- Incremental ETLs: the highest incremental_column value loaded, saved in the
-- transaction that loaded the rows it covers.
CREATE TABLE pypeline.watermark (
	etl_type text NOT NULL CHECK (etl_type IN ('dimension', 'fact')),
	etl_name text NOT NULL,
	value text NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (etl_type, etl_name)
);

-- A watermark goes with its ETL: a deleted and redefined ETL starts afresh.
CREATE FUNCTION pypeline._forget_watermark()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM pypeline.watermark
	WHERE etl_type = TG_ARGV[0] AND etl_name = OLD.name;
	RETURN NULL;
END $$;

CREATE TABLE pypeline.run_log (
	id bigserial PRIMARY KEY,
	etl_type text NOT NULL,
	etl_name text NOT NULL,
	target text NOT NULL,
	started_at timestamptz NOT NULL,
	finished_at timestamptz NOT NULL,
	rows_read bigint NOT NULL DEFAULT 0,
	rows_inserted bigint NOT NULL DEFAULT 0,
	rows_updated bigint NOT NULL DEFAULT 0,
	rows_unchanged bigint NOT NULL DEFAULT 0,
	rows_rejected bigint NOT NULL DEFAULT 0,
	rows_deleted bigint NOT NULL DEFAULT 0,
	status text NOT NULL CHECK (status IN ('success', 'failure')),
	message text,
	run_by name NOT NULL DEFAULT current_user
);
CREATE INDEX ON pypeline.run_log (etl_type, etl_name, started_at);

-- Source rows a dimension could not take (NULL or repeated natural key), kept
-- with the reason when the definition says on_bad_key => 'reject'.
CREATE TABLE pypeline.reject (
	id bigserial PRIMARY KEY,
	etl_type text NOT NULL,
	etl_name text NOT NULL,
	run_started_at timestamptz NOT NULL,
	natural_key text,
	reason text NOT NULL,
	source_row jsonb NOT NULL
);
CREATE INDEX ON pypeline.reject (etl_type, etl_name, run_started_at);

SELECT pg_catalog.pg_extension_config_dump('pypeline.dimension', '');
SELECT pg_catalog.pg_extension_config_dump('pypeline.dimension_position_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pypeline.fact', '');
SELECT pg_catalog.pg_extension_config_dump('pypeline.fact_position_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pypeline.watermark', '');
SELECT pg_catalog.pg_extension_config_dump('pypeline.run_log', '');
SELECT pg_catalog.pg_extension_config_dump('pypeline.run_log_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pypeline.reject', '');
SELECT pg_catalog.pg_extension_config_dump('pypeline.reject_id_seq', '');

CREATE TRIGGER forget_watermark AFTER DELETE ON pypeline.dimension
	FOR EACH ROW EXECUTE FUNCTION pypeline._forget_watermark('dimension');
CREATE TRIGGER forget_watermark AFTER DELETE ON pypeline.fact
	FOR EACH ROW EXECUTE FUNCTION pypeline._forget_watermark('fact');

CREATE VIEW pypeline.etls AS
	SELECT 'dimension'::text AS etl_type, name AS etl_name, active, server, target,
	       CASE WHEN generator IS NOT NULL THEN generator || ' generator'
	            ELSE 'scd type ' || scd_type ||
	                 coalesce(', incremental by ' || incremental_column, '') END AS kind,
	       position
	FROM pypeline.dimension
	UNION ALL
	SELECT 'fact', name, active, server, target,
	       CASE WHEN incremental_column IS NOT NULL THEN 'incremental by ' || incremental_column
	            ELSE 'full' END,
	       position
	FROM pypeline.fact
	ORDER BY 1, position;

GRANT SELECT ON pypeline.dimension, pypeline.fact, pypeline.watermark,
	pypeline.run_log, pypeline.reject, pypeline.etls TO PUBLIC;

-- Checks shared by the define functions.
CREATE FUNCTION pypeline._check_server(server name)
RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_foreign_server s
	               JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
	               WHERE s.srvname = server AND w.fdwname = 'pypeline_mysql') THEN
		RAISE EXCEPTION 'server "%" is not a pypeline_mysql server', server
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'CREATE SERVER ... FOREIGN DATA WRAPPER pypeline_mysql first.';
	END IF;
END $$;

CREATE FUNCTION pypeline._check_target(target text)
RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
	PERFORM parse_ident(target);
EXCEPTION WHEN invalid_parameter_value THEN
	RAISE EXCEPTION 'invalid target table name "%"', target
		USING ERRCODE = 'invalid_parameter_value',
		      HINT = 'Give a table name, optionally schema-qualified; quote names that need it, e.g. ''"Order"''.';
END $$;

CREATE FUNCTION pypeline._check_choice(option text, value text, allowed text[])
RETURNS void LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF value IS NULL OR NOT value = ANY (allowed) THEN
		RAISE EXCEPTION '% must be one of %, not "%"', option, array_to_string(allowed, ', '), value
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
END $$;

CREATE FUNCTION pypeline.define_dimension(
	name text,
	server name,
	source_sql text,
	target text,
	natural_key text[],
	surrogate_key text DEFAULT NULL,
	scd_type int DEFAULT 1,
	type1_columns text[] DEFAULT '{}',
	change_date_column text DEFAULT NULL,
	target_ddl text DEFAULT NULL,
	beginning_of_time timestamptz DEFAULT '-infinity',
	end_of_time timestamptz DEFAULT 'infinity',
	active boolean DEFAULT true,
	on_bad_key text DEFAULT 'error',
	column_rules jsonb DEFAULT '{}',
	deletes text DEFAULT 'ignore',
	max_closed_fraction numeric DEFAULT 0.2,
	schema_changes text DEFAULT 'fail',
	incremental_column text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	rule record;
BEGIN
	PERFORM pypeline._check_server(server);
	PERFORM pypeline._check_choice('on_bad_key', on_bad_key, '{error,reject}');
	PERFORM pypeline._check_choice('deletes', deletes, '{ignore,invalidate,new_record}');
	PERFORM pypeline._check_choice('schema_changes', schema_changes, '{fail,add_type1,add_type2}');
	IF jsonb_typeof(column_rules) IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'column_rules must be a JSON object of column name to rule'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'For example ''{"email": "type1", "signup_source": "ignore"}''.';
	END IF;
	FOR rule IN SELECT key, value #>> '{}' AS value FROM jsonb_each(column_rules) LOOP
		PERFORM pypeline._check_choice(format('the rule of column "%s"', rule.key), rule.value,
		                               '{type2,type1,type1_all,ignore}');
		IF rule.value = 'type2' AND scd_type <> 2 THEN
			RAISE EXCEPTION 'column "%" can be type2 only in a type 2 dimension', rule.key
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF rule.key = ANY (natural_key) THEN
			RAISE EXCEPTION 'natural key column "%" cannot have a change rule', rule.key
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END LOOP;
	IF deletes <> 'ignore' AND scd_type <> 2 THEN
		RAISE EXCEPTION 'deletes => ''%'' needs a type 2 dimension, whose versions can be closed', deletes
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF deletes <> 'ignore' AND incremental_column IS NOT NULL THEN
		RAISE EXCEPTION 'an incremental source cannot tell deleted rows from unchanged ones'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Use deletes => ''ignore'' with incremental_column.';
	END IF;
	IF max_closed_fraction NOT BETWEEN 0 AND 1 THEN
		RAISE EXCEPTION 'max_closed_fraction must be between 0 and 1'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF schema_changes = 'add_type2' AND scd_type <> 2 THEN
		RAISE EXCEPTION 'schema_changes => ''add_type2'' needs a type 2 dimension'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM pypeline._check_target(target);
	IF scd_type NOT IN (0, 1, 2) THEN
		RAISE EXCEPTION 'scd_type must be 0, 1 or 2, not %', scd_type
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF scd_type <> 2 AND (cardinality(type1_columns) > 0 OR change_date_column IS NOT NULL) THEN
		RAISE EXCEPTION 'type1_columns and change_date_column apply to type 2 dimensions only'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Pass scd_type => 2.';
	END IF;
	IF natural_key IS NULL OR cardinality(natural_key) = 0 THEN
		RAISE EXCEPTION 'dimension "%" needs a natural key', name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF type1_columns && natural_key THEN
		RAISE EXCEPTION 'natural key columns cannot be type-1 columns'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF beginning_of_time >= end_of_time THEN
		RAISE EXCEPTION 'beginning_of_time must be before end_of_time'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO pypeline.dimension AS d (name, server, source_sql, target, natural_key,
		surrogate_key, scd_type, type1_columns, change_date_column, target_ddl,
		beginning_of_time, end_of_time, active, on_bad_key, column_rules, deletes,
		max_closed_fraction, schema_changes, incremental_column)
	VALUES (name, server, source_sql, target, natural_key,
		coalesce(surrogate_key, name || '_key'), scd_type, coalesce(type1_columns, '{}'),
		change_date_column, target_ddl, beginning_of_time, end_of_time, active, on_bad_key,
		coalesce(column_rules, '{}'), deletes, max_closed_fraction, schema_changes,
		incremental_column)
	ON CONFLICT ON CONSTRAINT dimension_pkey DO UPDATE SET
		server = excluded.server, source_sql = excluded.source_sql, target = excluded.target,
		natural_key = excluded.natural_key, surrogate_key = excluded.surrogate_key,
		scd_type = excluded.scd_type, type1_columns = excluded.type1_columns,
		change_date_column = excluded.change_date_column, target_ddl = excluded.target_ddl,
		beginning_of_time = excluded.beginning_of_time, end_of_time = excluded.end_of_time,
		active = excluded.active, on_bad_key = excluded.on_bad_key,
		column_rules = excluded.column_rules, deletes = excluded.deletes,
		max_closed_fraction = excluded.max_closed_fraction,
		schema_changes = excluded.schema_changes, incremental_column = excluded.incremental_column,
		generator = NULL, first_date = NULL, last_date = NULL, defined_at = now();
	RETURN name;
END $$;
COMMENT ON FUNCTION pypeline.define_dimension IS
'Defines (or redefines) a dimension ETL loaded from a MySQL query';

CREATE FUNCTION pypeline.define_date_dimension(
	name text,
	target text,
	first date,
	last date,
	surrogate_key text DEFAULT NULL,
	active boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pypeline._check_target(target);
	IF first > last THEN
		RAISE EXCEPTION 'first date % is after last date %', first, last
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	INSERT INTO pypeline.dimension AS d (name, target, natural_key, surrogate_key,
		generator, first_date, last_date, active)
	VALUES (name, target, '{date}', coalesce(surrogate_key, name || '_key'), 'date',
		first, last, active)
	ON CONFLICT ON CONSTRAINT dimension_pkey DO UPDATE SET
		server = NULL, source_sql = NULL, target = excluded.target,
		natural_key = excluded.natural_key, surrogate_key = excluded.surrogate_key,
		scd_type = 1, type1_columns = '{}', change_date_column = NULL, target_ddl = NULL,
		column_rules = '{}', deletes = 'ignore', schema_changes = 'fail', incremental_column = NULL,
		generator = 'date', first_date = excluded.first_date, last_date = excluded.last_date,
		active = excluded.active, defined_at = now();
	RETURN name;
END $$;
COMMENT ON FUNCTION pypeline.define_date_dimension IS
'Defines a generated calendar dimension: key YYYYMMDD, one row per day from first to last';

CREATE FUNCTION pypeline.define_fact(
	name text,
	server name,
	source_sql text,
	target text,
	lookups jsonb DEFAULT '{}',
	measures text[] DEFAULT '{}',
	degenerate_columns text[] DEFAULT '{}',
	event_time_column text DEFAULT NULL,
	incremental_column text DEFAULT NULL,
	unmatched text DEFAULT 'unknown',
	target_ddl text DEFAULT NULL,
	active boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	lookup record;
BEGIN
	PERFORM pypeline._check_server(server);
	PERFORM pypeline._check_target(target);
	IF jsonb_typeof(lookups) IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'lookups must be a JSON object of dimension name to source column(s)'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'For example ''{"user": "user_id", "date": "created_at"}''.';
	END IF;
	FOR lookup IN SELECT key, value FROM jsonb_each(lookups) LOOP
		IF NOT EXISTS (SELECT 1 FROM pypeline.dimension d WHERE d.name = lookup.key) THEN
			RAISE EXCEPTION 'fact "%" looks up dimension "%", which is not defined', name, lookup.key
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = 'Define the dimension first with pypeline.define_dimension.';
		END IF;
		IF jsonb_typeof(lookup.value) NOT IN ('string', 'array') THEN
			RAISE EXCEPTION 'lookup of dimension "%" must name a source column or an array of them', lookup.key
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END LOOP;
	PERFORM pypeline._check_choice('unmatched', unmatched, '{unknown,inferred,error}');
	INSERT INTO pypeline.fact AS f (name, server, source_sql, target, lookups, measures,
		degenerate_columns, event_time_column, incremental_column, unmatched, target_ddl, active)
	VALUES (name, server, source_sql, target, lookups, coalesce(measures, '{}'),
		coalesce(degenerate_columns, '{}'), event_time_column, incremental_column, unmatched,
		target_ddl, active)
	ON CONFLICT ON CONSTRAINT fact_pkey DO UPDATE SET
		server = excluded.server, source_sql = excluded.source_sql, target = excluded.target,
		lookups = excluded.lookups, measures = excluded.measures,
		degenerate_columns = excluded.degenerate_columns,
		event_time_column = excluded.event_time_column,
		incremental_column = excluded.incremental_column, unmatched = excluded.unmatched,
		target_ddl = excluded.target_ddl, active = excluded.active, defined_at = now();
	RETURN name;
END $$;
COMMENT ON FUNCTION pypeline.define_fact IS
'Defines (or redefines) a fact ETL: lookups map dimension names to the source column(s) holding their natural key';

CREATE FUNCTION pypeline.set_active(name text, kind text, active boolean)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF kind = 'dimension' THEN
		UPDATE pypeline.dimension d SET active = set_active.active WHERE d.name = set_active.name;
	ELSIF kind = 'fact' THEN
		UPDATE pypeline.fact f SET active = set_active.active WHERE f.name = set_active.name;
	ELSE
		RAISE EXCEPTION 'kind must be dimension or fact, not "%"', kind
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT FOUND THEN
		RAISE EXCEPTION '% "%" is not defined', kind, name
			USING ERRCODE = 'undefined_object';
	END IF;
END $$;

-------------------------------------------------------------------------------
-- Running ETLs
-------------------------------------------------------------------------------
CREATE FUNCTION pypeline.process_etl(name text, kind text,
	delete_existing_table boolean DEFAULT false,
	OUT etl_type text, OUT etl_name text, OUT rows bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'pypeline_process_etl'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION pypeline.process_etl IS
'Runs one ETL in the current transaction; creates its target if absent, else loads incrementally';

CREATE FUNCTION pypeline.refresh_data_warehouse(run_dimensions boolean DEFAULT true,
	run_facts boolean DEFAULT true, delete_existing_tables boolean DEFAULT true)
RETURNS TABLE (etl_type text, etl_name text, rows bigint)
AS 'MODULE_PATHNAME', 'pypeline_refresh_data_warehouse'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION pypeline.refresh_data_warehouse IS
'Runs every active dimension, then every active fact, in definition order; one row per ETL';

CREATE FUNCTION pypeline.test_dimension_source()
RETURNS TABLE (etl_name text, server name, status text, rows bigint, message text)
AS 'MODULE_PATHNAME', 'pypeline_test_dimension_source'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION pypeline.test_dimension_source IS
'Reads every active dimension source (read-only on both sides) and reports ok or the error';

-- Running ETLs, from the activity text and COPY-style progress they report.
CREATE VIEW pypeline.progress AS
	SELECT a.pid, a.usename AS run_by, m[1] AS etl_type, m[2] AS etl_name, m[3] AS target,
	       CASE p.bytes_processed WHEN 1 THEN 'reading source' WHEN 2 THEN 'writing target' END AS phase,
	       p.tuples_processed AS rows_read,
	       timestamptz '2000-01-01 00:00:00+00' + p.bytes_total * interval '1 microsecond' AS started_at,
	       clock_timestamp() - (timestamptz '2000-01-01 00:00:00+00' + p.bytes_total * interval '1 microsecond')
	           AS elapsed
	FROM pg_catalog.pg_stat_progress_copy p
	JOIN pg_catalog.pg_stat_activity a USING (pid),
	LATERAL regexp_match(a.query, '^pypeline ETL (dimension|fact) "(.*)" into (.*)$') m;
GRANT SELECT ON pypeline.progress TO PUBLIC;

-------------------------------------------------------------------------------
-- Asynchronous tasks (the old Celery tasks), run by dynamic background workers
-------------------------------------------------------------------------------
CREATE TABLE pypeline.task (
	id bigserial PRIMARY KEY,
	parent_id bigint REFERENCES pypeline.task ON DELETE CASCADE,
	what text NOT NULL CHECK (what IN ('process_etl', 'refresh_data_warehouse')),
	arguments jsonb NOT NULL,
	state text NOT NULL DEFAULT 'PENDING'
		CHECK (state IN ('PENDING', 'STARTED', 'SUCCESS', 'FAILURE', 'REVOKED')),
	result jsonb,
	error text,
	submitted_at timestamptz NOT NULL DEFAULT now(),
	started_at timestamptz,
	finished_at timestamptz,
	worker_pid integer,
	submitted_by name NOT NULL DEFAULT current_user,
	database name NOT NULL DEFAULT current_database()
);
CREATE INDEX ON pypeline.task (state, submitted_by) WHERE state IN ('PENDING', 'STARTED');
CREATE INDEX ON pypeline.task (parent_id);
SELECT pg_catalog.pg_extension_config_dump('pypeline.task', '');
SELECT pg_catalog.pg_extension_config_dump('pypeline.task_id_seq', '');

-- Each role sees and changes its own tasks and those of roles it belongs to;
-- workers run as the submitting role, so the same rule lets them update theirs.
ALTER TABLE pypeline.task ENABLE ROW LEVEL SECURITY;
CREATE POLICY task_owner ON pypeline.task
	USING (pg_catalog.pg_has_role(submitted_by, 'MEMBER'))
	WITH CHECK (pg_catalog.pg_has_role(submitted_by, 'MEMBER'));
GRANT SELECT, INSERT, UPDATE ON pypeline.task TO PUBLIC;
GRANT USAGE ON SEQUENCE pypeline.task_id_seq TO PUBLIC;
-- Runs are recorded as the role that runs them, which may write only its own
-- run-log rows and only the watermarks of ETLs whose target it may load.
CREATE FUNCTION pypeline._may_load(etl_type text, etl_name text)
RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT coalesce(pg_catalog.has_table_privilege(to_regclass(e.target), 'INSERT'), false)
	FROM (SELECT target FROM pypeline.dimension WHERE etl_type = 'dimension' AND name = etl_name
	      UNION ALL
	      SELECT target FROM pypeline.fact WHERE etl_type = 'fact' AND name = etl_name) e
$$;
GRANT INSERT ON pypeline.run_log, pypeline.reject TO PUBLIC;
GRANT INSERT, UPDATE, DELETE ON pypeline.watermark TO PUBLIC;
ALTER TABLE pypeline.run_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY run_log_read ON pypeline.run_log FOR SELECT USING (true);
CREATE POLICY run_log_own ON pypeline.run_log FOR INSERT WITH CHECK (run_by = current_user);
ALTER TABLE pypeline.watermark ENABLE ROW LEVEL SECURITY;
CREATE POLICY watermark_read ON pypeline.watermark FOR SELECT USING (true);
CREATE POLICY watermark_insert ON pypeline.watermark FOR INSERT
	WITH CHECK (coalesce(pypeline._may_load(etl_type, etl_name), false));
CREATE POLICY watermark_update ON pypeline.watermark FOR UPDATE
	USING (coalesce(pypeline._may_load(etl_type, etl_name), false));
CREATE POLICY watermark_delete ON pypeline.watermark FOR DELETE
	USING (coalesce(pypeline._may_load(etl_type, etl_name), false));
GRANT USAGE ON SEQUENCE pypeline.run_log_id_seq, pypeline.reject_id_seq TO PUBLIC;

CREATE FUNCTION pypeline._submit(what text, arguments jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pypeline_submit'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION pypeline.process_etl_async(name text, kind text,
	delete_existing_table boolean DEFAULT false)
RETURNS bigint
LANGUAGE sql VOLATILE AS $$
	SELECT pypeline._submit('process_etl', jsonb_build_object('name', name, 'kind', kind,
		'delete_existing_table', delete_existing_table))
$$;
COMMENT ON FUNCTION pypeline.process_etl_async IS
'Runs one ETL in a background worker once this transaction commits; returns the task id';

CREATE FUNCTION pypeline.refresh_data_warehouse_async(run_dimensions boolean DEFAULT true,
	run_facts boolean DEFAULT true, delete_existing_tables boolean DEFAULT true)
RETURNS bigint
LANGUAGE sql VOLATILE AS $$
	SELECT pypeline._submit('refresh_data_warehouse', jsonb_build_object(
		'run_dimensions', run_dimensions, 'run_facts', run_facts,
		'delete_existing_tables', delete_existing_tables,
		'max_parallel_etls', current_setting('pypeline.max_parallel_etls', true)::int))
$$;
COMMENT ON FUNCTION pypeline.refresh_data_warehouse_async IS
'Refreshes in background workers once this transaction commits: incremental refreshes run independent ETLs in parallel; returns the task id';

-- A task left STARTED by a worker that no longer runs (killed, or the server
-- restarted) is marked FAILURE, so no task stays STARTED forever.
CREATE FUNCTION pypeline._reap_tasks()
RETURNS void
LANGUAGE sql VOLATILE AS $$
	-- pg_stat_activity is read once per transaction unless told otherwise,
	-- and wait() polls within one transaction: see workers started since
	SELECT pg_catalog.pg_stat_clear_snapshot();
	UPDATE pypeline.task t
	SET state = 'FAILURE', finished_at = clock_timestamp(),
	    error = 'the worker process ended before the task finished (killed, or the server restarted)'
	WHERE t.state = 'STARTED'
	  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a
	                  WHERE a.pid = t.worker_pid AND a.backend_type = 'pypeline worker');
	-- sub-tasks that never started belong to a refresh that has ended
	UPDATE pypeline.task c
	SET state = 'FAILURE', finished_at = clock_timestamp(),
	    error = 'its refresh ended before it started'
	FROM pypeline.task p
	WHERE c.parent_id = p.id AND c.state = 'PENDING'
	  AND p.state IN ('SUCCESS', 'FAILURE', 'REVOKED');
$$;

-- A task of the caller's (dead workers' tasks marked first), or an error.
CREATE FUNCTION pypeline._task(task_id bigint)
RETURNS pypeline.task
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	t pypeline.task;
BEGIN
	PERFORM pypeline._reap_tasks();
	SELECT * INTO t FROM pypeline.task WHERE id = task_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'task % does not exist or belongs to another role', task_id
			USING ERRCODE = 'undefined_object';
	END IF;
	RETURN t;
END $$;

CREATE FUNCTION pypeline.task_status(task_id bigint)
RETURNS text
LANGUAGE sql VOLATILE AS $$
	SELECT (pypeline._task(task_id)).state
$$;

CREATE FUNCTION pypeline.task_result(task_id bigint)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	t pypeline.task := pypeline._task(task_id);
BEGIN
	IF t.state = 'FAILURE' THEN
		RAISE EXCEPTION 'task % failed: %', task_id, t.error
			USING ERRCODE = 'external_routine_exception';
	END IF;
	RETURN t.result;
END $$;

CREATE FUNCTION pypeline.wait(task_id bigint, timeout interval DEFAULT '1 hour')
RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	deadline timestamptz := clock_timestamp() + timeout;
	t pypeline.task;
BEGIN
	LOOP
		t := pypeline._task(task_id);
		IF t.state IN ('SUCCESS', 'FAILURE', 'REVOKED') THEN
			RETURN t.state;
		END IF;
		IF (SELECT xmin FROM pypeline.task WHERE id = task_id)::text =
		   pg_catalog.pg_current_xact_id_if_assigned()::text THEN
			RAISE EXCEPTION 'task % starts when the transaction that submitted it commits', task_id
				USING ERRCODE = 'object_not_in_prerequisite_state',
				      HINT = 'COMMIT first, then wait.';
		END IF;
		IF clock_timestamp() >= deadline THEN
			RETURN t.state;
		END IF;
		PERFORM pg_catalog.pg_sleep(0.05);
	END LOOP;
END $$;
COMMENT ON FUNCTION pypeline.wait IS
'Waits until a task ends or the timeout passes; returns its state';

CREATE FUNCTION pypeline.revoke(task_id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	pids integer[];
	revoked_count bigint;
BEGIN
	PERFORM pypeline._task(task_id);
	WITH revoked AS (
		UPDATE pypeline.task
		SET state = 'REVOKED', finished_at = clock_timestamp(), error = 'revoked by ' || current_user
		WHERE (id = task_id OR parent_id = task_id) AND state IN ('PENDING', 'STARTED')
		RETURNING worker_pid)
	SELECT array_agg(worker_pid) FILTER (WHERE worker_pid IS NOT NULL), count(*)
	INTO pids, revoked_count FROM revoked;
	-- a running ETL is cancelled; its worker then rolls it back
	PERFORM pg_catalog.pg_cancel_backend(pid) FROM unnest(pids) pid;
	RETURN revoked_count > 0;
END $$;
COMMENT ON FUNCTION pypeline.revoke IS
'Revokes a pending or running task (and its sub-tasks): a running ETL is cancelled and rolls back';

-------------------------------------------------------------------------------
-- Schedules: pg_cron runs the job; pypeline only writes its command.
-------------------------------------------------------------------------------
CREATE FUNCTION pypeline._require_pg_cron()
RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc
	               WHERE proname = 'schedule' AND pronamespace = to_regnamespace('cron')) THEN
		RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
			USING ERRCODE = 'feature_not_supported',
			      HINT = 'Add pg_cron to shared_preload_libraries, set cron.database_name to this database and run CREATE EXTENSION pg_cron; everything else in pypeline works without it.';
	END IF;
END $$;

CREATE FUNCTION pypeline.schedule(job_name text, cron_schedule text,
	run_dimensions boolean DEFAULT true, run_facts boolean DEFAULT true,
	delete_existing_tables boolean DEFAULT false,
	etl text DEFAULT NULL, kind text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	command text;
	job bigint;
BEGIN
	PERFORM pypeline._require_pg_cron();
	IF etl IS NOT NULL THEN
		IF kind IS NULL OR kind NOT IN ('dimension', 'fact') THEN
			RAISE EXCEPTION 'scheduling ETL "%" needs kind => ''dimension'' or ''fact''', etl
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF NOT EXISTS (SELECT 1 FROM pypeline.etls e
		               WHERE e.etl_name = schedule.etl AND e.etl_type = schedule.kind) THEN
			RAISE EXCEPTION '% "%" is not defined', kind, etl
				USING ERRCODE = 'undefined_object';
		END IF;
		command := format('SELECT * FROM pypeline.process_etl(%L, %L)', etl, kind);
	ELSE
		command := format('SELECT * FROM pypeline.refresh_data_warehouse(run_dimensions => %s, run_facts => %s, delete_existing_tables => %s)',
		                  run_dimensions::text, run_facts::text, delete_existing_tables::text);
	END IF;
	EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job USING job_name, cron_schedule, command;
	RETURN job;
END $$;
COMMENT ON FUNCTION pypeline.schedule IS
'Schedules a refresh (or, with etl and kind, one ETL) with pg_cron; returns the cron job id';

CREATE FUNCTION pypeline.unschedule(job_name text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	done boolean;
BEGIN
	PERFORM pypeline._require_pg_cron();
	EXECUTE 'SELECT cron.unschedule($1)' INTO done USING job_name;
	RETURN done;
END $$;
