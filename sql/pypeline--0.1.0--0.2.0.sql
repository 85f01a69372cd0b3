/* pypeline 0.1.0 -> 0.2.0 (ALTER EXTENSION pypeline UPDATE TO '0.2.0') */
\echo Use "ALTER EXTENSION pypeline UPDATE TO '0.2.0'" to load this file. \quit

-------------------------------------------------------------------------------
-- 0.2.0 runs an ETL as the role that owns it (doc/security.md).  0.1.0 kept
-- no owner: an ETL ran as whoever called it, and only the extension's owner
-- (or roles it granted) could write definitions.  An existing ETL becomes the
-- ETL of the role that owns its target table, the role that has been loading
-- it; an ETL without a table yet, the extension owner's.  No ETL gains
-- rights: its definition was written by the extension's owner, and it now
-- runs with its table owner's rights or the extension owner's, and only for
-- roles with those rights.  A target is the table it names now, through
-- the search path of the role updating the extension; one not created yet,
-- unqualified, goes to schema public (0.1.0 resolved it at each run).
-------------------------------------------------------------------------------
CREATE FUNCTION pypeline._upgrade_owner(target text) RETURNS regrole
LANGUAGE sql STABLE AS $$
	SELECT coalesce((SELECT c.relowner::regrole FROM pg_catalog.pg_class c WHERE c.oid = to_regclass(target)),
	                (SELECT e.extowner::regrole FROM pg_catalog.pg_extension e WHERE e.extname = 'pypeline'))
$$;
CREATE FUNCTION pypeline._upgrade_schema(target text) RETURNS name
LANGUAGE sql STABLE AS $$
	SELECT coalesce((SELECT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	                 WHERE c.oid = to_regclass(target)),
	                CASE WHEN cardinality(parse_ident(target)) = 2 THEN (parse_ident(target))[1] END,
	                'public')
$$;

ALTER TABLE pypeline.dimension ADD COLUMN owner regrole, ADD COLUMN target_schema name, ADD COLUMN target_table name;
UPDATE pypeline.dimension SET owner = pypeline._upgrade_owner(target), target_schema = pypeline._upgrade_schema(target),
	target_table = (parse_ident(target))[cardinality(parse_ident(target))];
ALTER TABLE pypeline.dimension ALTER COLUMN owner SET NOT NULL, ALTER COLUMN target_schema SET NOT NULL,
	ALTER COLUMN target_table SET NOT NULL,
	ADD CHECK (generator IS NULL OR (first_date >= '0001-01-01' AND
	                                 (last_date IS NULL OR (last_date <= '9999-12-31' AND first_date <= last_date)))),
	ADD CHECK (beginning_of_time < end_of_time),
	ADD COLUMN capture text CHECK (capture IN ('binlog')),
	ADD CONSTRAINT dimension_capture_source CHECK (capture IS NULL OR
		(generator IS NULL AND incremental_column IS NULL AND change_date_column IS NULL));

ALTER TABLE pypeline.fact ADD COLUMN owner regrole, ADD COLUMN target_schema name, ADD COLUMN target_table name,
	ADD COLUMN key_columns text[] NOT NULL DEFAULT '{}',
	ADD COLUMN snapshot_column text,
	ADD COLUMN deletes text NOT NULL DEFAULT 'ignore' CHECK (deletes IN ('ignore', 'delete')),
	ADD COLUMN max_deleted_fraction numeric NOT NULL DEFAULT 0.2 CHECK (max_deleted_fraction BETWEEN 0 AND 1);
UPDATE pypeline.fact SET owner = pypeline._upgrade_owner(target), target_schema = pypeline._upgrade_schema(target),
	target_table = (parse_ident(target))[cardinality(parse_ident(target))];
ALTER TABLE pypeline.fact ALTER COLUMN owner SET NOT NULL, ALTER COLUMN target_schema SET NOT NULL,
	ALTER COLUMN target_table SET NOT NULL,
	ADD CHECK (cardinality(key_columns) = 0 OR snapshot_column IS NULL),
	ADD CHECK (deletes = 'ignore' OR (cardinality(key_columns) > 0 AND incremental_column IS NULL)),
	ADD COLUMN capture text CHECK (capture IN ('binlog')),
	ADD CONSTRAINT fact_capture_source CHECK (capture IS NULL OR (incremental_column IS NULL AND snapshot_column IS NULL)),
	ADD COLUMN partition_by text CHECK (partition_by IN ('day', 'month', 'year')),
	ADD CONSTRAINT fact_partition_key CHECK (partition_by IS NULL OR
		(event_time_column IS NOT NULL AND cardinality(key_columns) = 0 AND target_ddl IS NULL)),
	ADD COLUMN split_column text,
	ADD CONSTRAINT fact_split_read CHECK (split_column IS NULL OR capture IS NULL);

-- What runs wrote belongs to the ETL's owner (row security below).
CREATE FUNCTION pypeline._upgrade_etl_owner(etl_type text, etl_name text, fallback text) RETURNS regrole
LANGUAGE sql STABLE AS $$
	SELECT coalesce((SELECT owner FROM pypeline.dimension WHERE etl_type = 'dimension' AND name = etl_name),
	                (SELECT owner FROM pypeline.fact WHERE etl_type = 'fact' AND name = etl_name),
	                to_regrole(fallback),
	                (SELECT e.extowner::regrole FROM pg_catalog.pg_extension e WHERE e.extname = 'pypeline'))
$$;
ALTER TABLE pypeline.watermark ADD COLUMN owner regrole;
UPDATE pypeline.watermark SET owner = pypeline._upgrade_etl_owner(etl_type, etl_name, NULL);
ALTER TABLE pypeline.watermark ALTER COLUMN owner SET NOT NULL;

ALTER TABLE pypeline.run_log ADD COLUMN rows_repaired bigint NOT NULL DEFAULT 0, ADD COLUMN unmatched jsonb,
	ADD COLUMN owner regrole;
UPDATE pypeline.run_log SET owner = pypeline._upgrade_etl_owner(etl_type, etl_name, run_by);
ALTER TABLE pypeline.run_log ALTER COLUMN owner SET NOT NULL, ALTER COLUMN run_by DROP DEFAULT;

ALTER TABLE pypeline.reject ADD COLUMN owner regrole;
UPDATE pypeline.reject SET owner = pypeline._upgrade_etl_owner(etl_type, etl_name, NULL);
ALTER TABLE pypeline.reject ALTER COLUMN owner SET NOT NULL;

ALTER TABLE pypeline.task ALTER COLUMN submitted_by DROP DEFAULT,
	DROP CONSTRAINT task_what_check,
	ADD CONSTRAINT task_what_check CHECK (what IN ('process_etl', 'refresh_data_warehouse', 'capture'));

DROP FUNCTION pypeline._upgrade_owner(text), pypeline._upgrade_schema(text),
	pypeline._upgrade_etl_owner(text, text, text);

-------------------------------------------------------------------------------
-- Only the extension's code writes its tables now; a role reads the rows of
-- the ETLs whose owner's rights it has.
-------------------------------------------------------------------------------
DROP POLICY run_log_read ON pypeline.run_log;
DROP POLICY run_log_own ON pypeline.run_log;
DROP POLICY watermark_read ON pypeline.watermark;
DROP POLICY watermark_insert ON pypeline.watermark;
DROP POLICY watermark_update ON pypeline.watermark;
DROP POLICY watermark_delete ON pypeline.watermark;
DROP POLICY task_owner ON pypeline.task;
ALTER TABLE pypeline.reject ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_reads ON pypeline.run_log FOR SELECT USING (pg_catalog.pg_has_role(owner, 'USAGE'));
CREATE POLICY owner_reads ON pypeline.reject FOR SELECT USING (pg_catalog.pg_has_role(owner, 'USAGE'));
CREATE POLICY owner_reads ON pypeline.watermark FOR SELECT USING (pg_catalog.pg_has_role(owner, 'USAGE'));
CREATE POLICY task_owner ON pypeline.task FOR SELECT
	USING (pg_catalog.pg_has_role(submitted_by, 'MEMBER'));
REVOKE ALL ON pypeline.dimension, pypeline.fact, pypeline.watermark, pypeline.run_log,
	pypeline.reject, pypeline.task FROM PUBLIC;
REVOKE ALL ON SEQUENCE pypeline.task_id_seq, pypeline.run_log_id_seq, pypeline.reject_id_seq FROM PUBLIC;
GRANT SELECT ON pypeline.task TO PUBLIC;

-------------------------------------------------------------------------------
-- Functions and views: those that changed are dropped and created as 0.2.0
-- has them (below, verbatim from pypeline--0.2.0.sql).
-------------------------------------------------------------------------------
DROP VIEW pypeline.etls, pypeline.progress;
DO $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid::regprocedure
	         FROM pg_catalog.pg_proc p
	         JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
	         JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'pypeline'
	         WHERE p.proname NOT IN ('_check_choice', '_check_server', '_check_target', '_forget_watermark', 'describe', 'mysql_fdw_validator', 'process_etl', 'process_etl_async', 'query', 'refresh_data_warehouse', 'refresh_data_warehouse_async', 'test_dimension_source')
	LOOP
		EXECUTE format('DROP FUNCTION %s', f);
	END LOOP;
END $$;

-- Generated by regress/make_upgrade_script.py from here on.

COMMENT ON FUNCTION pypeline.query(name, text) IS
'Rows of a read-only query on a pypeline_mysql server: SELECT * FROM pypeline.query(''srv'', ''SELECT ...'') AS t(col type, ...)';

COMMENT ON FUNCTION pypeline.describe(name, text) IS
'Columns of a MySQL query with their MySQL type and the PostgreSQL type pypeline loads them as (the query is prepared, not run)';

CREATE VIEW pypeline.etls AS
	SELECT 'dimension'::text AS etl_type, name AS etl_name, active, server, target,
	       CASE WHEN generator IS NOT NULL THEN generator || ' generator'
	            ELSE 'scd type ' || scd_type ||
	                 coalesce(', incremental by ' || incremental_column, '') END AS kind,
	       position, owner
	FROM pypeline.dimension
	UNION ALL
	SELECT 'fact', name, active, server, target,
	       CASE WHEN cardinality(key_columns) > 0 THEN 'accumulating by ' || array_to_string(key_columns, ', ')
	            WHEN snapshot_column IS NOT NULL THEN 'periodic by ' || snapshot_column
	            WHEN incremental_column IS NOT NULL THEN 'transaction, incremental by ' || incremental_column
	            ELSE 'full source' END
	       || CASE WHEN cardinality(key_columns) > 0 AND incremental_column IS NOT NULL
	               THEN ', incremental by ' || incremental_column ELSE '' END,
	       position, owner
	FROM pypeline.fact
	ORDER BY 1, position;

GRANT SELECT ON pypeline.dimension, pypeline.fact, pypeline.watermark,
	pypeline.run_log, pypeline.reject, pypeline.etls TO PUBLIC;

-- Writes a definition for its caller (C, in catalog.c): the owner is the
-- caller, or stays the existing owner if the caller has that role's rights;
-- the target is resolved to a schema now; target_ddl must be one CREATE TABLE
-- of that target.  The define functions validate their arguments and call it.
CREATE FUNCTION pypeline._save_definition(kind text, definition jsonb)
RETURNS text
AS 'MODULE_PATHNAME', 'pypeline_save_definition'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- What a captured ETL needs, checked when it is defined: a source that is one
-- table's columns (the binary log holds the rows of tables; each run checks
-- the columns' origin as well), and a server and account that can be read
-- (a WARNING names what is missing: the definition is kept, its runs stop
-- until then).  capture_requirements is defined below; plpgsql resolves it
-- when this runs.
CREATE FUNCTION pypeline._check_capture(capture text, server name, kind text, name text, source_sql text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	unmet text[];
BEGIN
	PERFORM pypeline._check_choice('capture', capture, '{binlog}');
	IF source_sql !~* '^\s*select\s+(?:(?!\m(from|select)\M).)+\s+from\s+[`"]?[\w$]+[`"]?(\.[`"]?[\w$]+[`"]?)?\s*(order\s+by\s+[\w$`", ]+)?;?\s*$' THEN
		RAISE EXCEPTION 'the source of a captured ETL must read one table: SELECT columns FROM table'
			USING ERRCODE = 'feature_not_supported',
			      DETAIL = 'The binary log holds the rows of tables, so capture follows only a source that selects columns of one table, without WHERE, JOIN, GROUP BY or subqueries.',
			      HINT = 'Select the columns (renamed as need be) of one table: SELECT id AS customer_id, email FROM customers.';
	END IF;
	BEGIN
		unmet := ARRAY(SELECT r.detail FROM pypeline.capture_requirements(server) r WHERE NOT r.met);
	EXCEPTION
		WHEN sqlclient_unable_to_establish_sqlconnection OR connection_failure OR invalid_authorization_specification
		     OR insufficient_privilege OR undefined_object THEN
			RAISE NOTICE 'the capture requirements of % "%" were not checked: %', kind, name, SQLERRM;
	END;
	IF cardinality(unmet) > 0 THEN
		RAISE WARNING '% "%" cannot read the binary log of server "%" yet', kind, name, server
			USING DETAIL = array_to_string(unmet, '; ') || '.',
			      HINT = format('Its runs stop until this is fixed; pypeline.capture_requirements(%L) shows what is met.', server);
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
	incremental_column text DEFAULT NULL,
	capture text DEFAULT NULL)
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
	IF capture IS NOT NULL AND (incremental_column IS NOT NULL OR change_date_column IS NOT NULL) THEN
		RAISE EXCEPTION 'capture => ''binlog'' takes the changes and their times from the binary log, not from incremental_column or change_date_column'
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF capture IS NOT NULL THEN
		PERFORM pypeline._check_capture(capture, server, 'dimension', name, source_sql);
	END IF;
	RETURN pypeline._save_definition('dimension', jsonb_build_object(
		'name', name, 'server', server, 'source_sql', source_sql, 'target', target,
		'natural_key', natural_key, 'surrogate_key', coalesce(surrogate_key, name || '_key'),
		'scd_type', scd_type, 'type1_columns', coalesce(type1_columns, '{}'),
		'change_date_column', change_date_column, 'target_ddl', target_ddl,
		'beginning_of_time', beginning_of_time, 'end_of_time', end_of_time, 'active', active,
		'on_bad_key', on_bad_key, 'column_rules', coalesce(column_rules, '{}'),
		'deletes', deletes, 'max_closed_fraction', max_closed_fraction,
		'schema_changes', schema_changes, 'incremental_column', incremental_column,
		'generator', NULL, 'first_date', NULL, 'last_date', NULL, 'capture', capture));
END $$;

COMMENT ON FUNCTION pypeline.define_dimension IS
'Defines (or redefines) a dimension ETL loaded from a MySQL query';

CREATE FUNCTION pypeline.define_date_dimension(
	name text,
	target text,
	first date,
	last date DEFAULT NULL,
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
	-- the key is YYYYMMDD: years 1 to 9999; no last date: the calendar grows
	IF first IS NULL OR first < '0001-01-01' OR last > '9999-12-31' THEN
		RAISE EXCEPTION 'a calendar runs from a date to a date between 0001-01-01 and 9999-12-31, not from % to %',
			coalesce(first::text, 'NULL'), coalesce(last::text, 'no last date')
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Give last => NULL for a calendar that grows with the facts.';
	END IF;
	RETURN pypeline._save_definition('dimension', jsonb_build_object(
		'name', name, 'server', NULL, 'source_sql', NULL, 'target', target,
		'natural_key', '{date}'::text[], 'surrogate_key', coalesce(surrogate_key, name || '_key'),
		'scd_type', 1, 'type1_columns', '{}'::text[], 'change_date_column', NULL,
		'target_ddl', NULL, 'beginning_of_time', '-infinity'::timestamptz,
		'end_of_time', 'infinity'::timestamptz, 'active', active, 'on_bad_key', 'error',
		'column_rules', '{}'::jsonb, 'deletes', 'ignore', 'max_closed_fraction', 0.2,
		'schema_changes', 'fail', 'incremental_column', NULL,
		'generator', 'date', 'first_date', first, 'last_date', last));
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
	active boolean DEFAULT true,
	key_columns text[] DEFAULT '{}',
	deletes text DEFAULT 'ignore',
	snapshot_column text DEFAULT NULL,
	max_deleted_fraction numeric DEFAULT 0.2,
	capture text DEFAULT NULL,
	partition_by text DEFAULT NULL,
	split_column text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	lookup record;
	needed text[];
	role text;
	source_columns text[];
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
	PERFORM pypeline._check_choice('deletes', deletes, '{ignore,delete}');
	IF cardinality(key_columns) > 0 AND snapshot_column IS NOT NULL THEN
		RAISE EXCEPTION 'a fact has key_columns (an accumulating snapshot) or a snapshot_column (a periodic snapshot), not both'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF deletes = 'delete' AND (coalesce(cardinality(key_columns), 0) = 0 OR incremental_column IS NOT NULL) THEN
		RAISE EXCEPTION 'deletes => ''delete'' needs key_columns and a full source (no incremental_column)'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Only a full source tells which keys are gone.';
	END IF;
	IF max_deleted_fraction NOT BETWEEN 0 AND 1 THEN
		RAISE EXCEPTION 'max_deleted_fraction must be between 0 and 1'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF split_column IS NOT NULL AND capture IS NOT NULL THEN
		RAISE EXCEPTION 'split_column reads a fact''s source as key ranges in several snapshots; a captured fact reads one snapshot and then the binary log'
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Give the fact split_column or capture, not both.';
	END IF;
	IF capture IS NOT NULL AND (incremental_column IS NOT NULL OR snapshot_column IS NOT NULL) THEN
		RAISE EXCEPTION 'capture => ''binlog'' applies to transaction facts (appended) and accumulating facts (key_columns), not with incremental_column or snapshot_column'
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF capture IS NOT NULL THEN
		PERFORM pypeline._check_capture(capture, server, 'fact', name, source_sql);
	END IF;
	IF partition_by IS NOT NULL THEN
		PERFORM pypeline._check_choice('partition_by', partition_by, '{day,month,year}');
		IF event_time_column IS NULL OR cardinality(key_columns) > 0 OR target_ddl IS NOT NULL THEN
			RAISE EXCEPTION 'partition_by partitions a derived fact table by its event time: it needs event_time_column, and no key_columns or target_ddl'
				USING ERRCODE = 'invalid_parameter_value',
				      HINT = 'A primary key on key_columns would have to contain the event time; a target_ddl can declare its own partitions.';
		END IF;
	END IF;
	-- fail early: the source must return every column the definition names
	-- (when the server can be reached now)
	needed := ARRAY(SELECT c || '|lookup column' FROM jsonb_each(lookups) l,
	                LATERAL jsonb_array_elements_text(CASE jsonb_typeof(l.value) WHEN 'array' THEN l.value
	                                                  ELSE jsonb_build_array(l.value) END) c)
	       || ARRAY(SELECT c || '|measure' FROM unnest(measures) c)
	       || ARRAY(SELECT c || '|degenerate column' FROM unnest(degenerate_columns) c)
	       || ARRAY(SELECT c || '|key column' FROM unnest(key_columns) c)
	       || ARRAY(SELECT c || '|' || r FROM (VALUES (event_time_column, 'event time column'),
	                (incremental_column, 'incremental column'), (snapshot_column, 'snapshot column'),
	                (split_column, 'split column')) v(c, r)
	                WHERE c IS NOT NULL);
	BEGIN
		source_columns := ARRAY(SELECT d.column_name FROM pypeline.describe(server, source_sql) d);
	EXCEPTION
		WHEN sqlclient_unable_to_establish_sqlconnection OR connection_failure OR invalid_authorization_specification
		     OR insufficient_privilege OR undefined_object THEN
			RAISE NOTICE 'the source of fact "%" was not checked: %', name, SQLERRM;
	END;
	FOREACH role IN ARRAY needed LOOP
		IF source_columns IS NOT NULL AND NOT split_part(role, '|', 1) = ANY (source_columns) THEN
			RAISE EXCEPTION 'source query of fact "%" returns no column "%" (its %)', name,
				split_part(role, '|', 1), split_part(role, '|', 2)
				USING ERRCODE = 'undefined_column',
				      DETAIL = format('The query returns: %s.', array_to_string(source_columns, ', ')),
				      HINT = format('Alias the column in the source query (SELECT id AS `%s` ...) or fix the definition.',
				                    split_part(role, '|', 1));
		END IF;
	END LOOP;
	RETURN pypeline._save_definition('fact', jsonb_build_object(
		'name', name, 'server', server, 'source_sql', source_sql, 'target', target,
		'lookups', lookups, 'measures', coalesce(measures, '{}'),
		'degenerate_columns', coalesce(degenerate_columns, '{}'),
		'event_time_column', event_time_column, 'incremental_column', incremental_column,
		'unmatched', unmatched, 'target_ddl', target_ddl, 'active', active,
		'key_columns', coalesce(key_columns, '{}'), 'deletes', deletes,
		'snapshot_column', snapshot_column, 'max_deleted_fraction', max_deleted_fraction,
		'capture', capture, 'partition_by', partition_by, 'split_column', split_column));
END $$;

COMMENT ON FUNCTION pypeline.define_fact IS
'Defines (or redefines) a fact ETL: lookups map dimension names to the source column(s) holding their natural key';

CREATE FUNCTION pypeline.set_active(name text, kind text, active boolean)
RETURNS void
AS 'MODULE_PATHNAME', 'pypeline_set_active'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION pypeline.set_active IS
'Turns an ETL on or off for refreshes (the old config.py switch); its owner, or a role with the owner''s rights, may';

CREATE FUNCTION pypeline.drop_etl(name text, kind text)
RETURNS void
AS 'MODULE_PATHNAME', 'pypeline_drop_etl'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION pypeline.drop_etl IS
'Deletes an ETL definition and its watermark (not its table, nor its run log); its owner may';

COMMENT ON FUNCTION pypeline.process_etl IS
'Runs one ETL in the current transaction; creates its target if absent, else loads incrementally';

COMMENT ON FUNCTION pypeline.refresh_data_warehouse IS
'Runs every active dimension, then every active fact, in definition order; one row per ETL';

COMMENT ON FUNCTION pypeline.test_dimension_source IS
'Reads every active dimension source (read-only on both sides) and reports ok or the error';

CREATE FUNCTION pypeline.test_fact_source()
RETURNS TABLE (etl_name text, server name, status text, rows bigint, message text)
AS 'MODULE_PATHNAME', 'pypeline_test_fact_source'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION pypeline.test_fact_source IS
'Reads every active fact source (read-only on both sides), checks the columns its definition names, and reports ok or the error';

-- What reading a server's binary log needs, checked with the caller's own
-- user mapping (doc/design.md, "Change data capture").  Privileges granted
-- through a MySQL role are not seen by information_schema.USER_PRIVILEGES.
CREATE FUNCTION pypeline.capture_requirements(server name)
RETURNS TABLE (requirement text, met boolean, detail text)
LANGUAGE plpgsql STRICT AS $$
DECLARE
	setting record;
	privileges text[];
	mariadb boolean;
BEGIN
	SELECT * INTO setting FROM pypeline.query(server,
		'SELECT IF(@@log_bin, ''ON'', ''OFF''), @@binlog_format, @@binlog_row_image, @@version')
		AS t(log_bin text, binlog_format text, binlog_row_image text, version text);
	privileges := ARRAY(SELECT p.privilege FROM pypeline.query(server,
		'SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES') AS p(privilege text));
	mariadb := setting.version ILIKE '%mariadb%';
	requirement := 'log_bin';
	met := setting.log_bin = 'ON';
	detail := CASE WHEN met THEN 'the binary log is on'
	               ELSE 'the binary log is off: start the server with --log-bin' END;
	RETURN NEXT;
	requirement := 'binlog_format = ROW';
	met := upper(setting.binlog_format) = 'ROW';
	detail := format('binlog_format is %s%s', setting.binlog_format,
	                 CASE WHEN met THEN '' ELSE ': SET GLOBAL binlog_format = ''ROW'' (and in the server''s configuration)' END);
	RETURN NEXT;
	requirement := 'binlog_row_image = FULL';
	met := upper(setting.binlog_row_image) = 'FULL';
	detail := format('binlog_row_image is %s%s', setting.binlog_row_image,
	                 CASE WHEN met THEN '' ELSE ': SET GLOBAL binlog_row_image = ''FULL'' (and in the server''s configuration)' END);
	RETURN NEXT;
	requirement := 'REPLICATION SLAVE privilege';
	met := privileges && '{REPLICATION SLAVE,REPLICATION REPLICA}';
	detail := CASE WHEN met THEN 'the account may read the binary log'
	               ELSE 'the account may not read the binary log: GRANT REPLICATION SLAVE ON *.* TO it' END;
	RETURN NEXT;
	IF mariadb THEN
		requirement := 'BINLOG MONITOR privilege';
		met := privileges && '{BINLOG MONITOR,SUPER}';
		detail := CASE WHEN met THEN 'the account may see the binary log''s coordinates'
		               ELSE 'the account may not see the binary log''s coordinates: GRANT BINLOG MONITOR ON *.* TO it' END;
		RETURN NEXT;
	END IF;
END $$;

COMMENT ON FUNCTION pypeline.capture_requirements(name) IS
'Whether a pypeline_mysql server and the caller''s account there can be read for change data capture, and what to change if not';

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
-- Invariants a user (and every test) can check after a run.  Read-only, as the
-- caller, who needs SELECT on the tables.  One row per invariant violated,
-- with how many rows or members violate it and one of them.
-------------------------------------------------------------------------------
CREATE FUNCTION pypeline._violations(rule text, query text)
RETURNS TABLE (invariant text, violations bigint, example text)
LANGUAGE plpgsql AS $$
DECLARE
	found bigint;
	one text;
BEGIN
	EXECUTE format('SELECT count(*), min(example) FROM (%s) v', query) INTO found, one;
	IF found > 0 THEN
		RETURN QUERY SELECT rule, found, one;
	END IF;
END $$;

CREATE FUNCTION pypeline.check_dimension(name text)
RETURNS TABLE (invariant text, violations bigint, example text)
LANGUAGE plpgsql AS $$
DECLARE
	d pypeline.dimension;
	t text;
	sk text;
	nk text;
	members text;
BEGIN
	SELECT * INTO d FROM pypeline.dimension WHERE dimension.name = check_dimension.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'dimension "%" is not defined', check_dimension.name
			USING ERRCODE = 'undefined_object', HINT = 'SELECT * FROM pypeline.etls lists the defined ETLs.';
	END IF;
	t := format('%I.%I', d.target_schema, d.target_table);
	IF to_regclass(t) IS NULL THEN
		RAISE EXCEPTION 'table % of dimension "%" does not exist', t, d.name
			USING ERRCODE = 'undefined_table', HINT = 'Run the dimension first.';
	END IF;
	sk := quote_ident(d.surrogate_key);
	nk := (SELECT string_agg(quote_ident(c), ', ') FROM unnest(d.natural_key) c);
	members := format('SELECT *, ROW(%s)::text AS pypeline_member FROM %s WHERE %s <> -1', nk, t, sk);
	RETURN QUERY SELECT * FROM pypeline._violations('the unknown member (key -1) exists',
		format('SELECT ''-1'' AS example WHERE NOT EXISTS (SELECT 1 FROM %s WHERE %s = -1)', t, sk));
	IF d.scd_type <> 2 THEN
		RETURN QUERY SELECT * FROM pypeline._violations('one row per natural key',
			format('SELECT pypeline_member AS example FROM (%s) m GROUP BY pypeline_member HAVING count(*) > 1', members));
		RETURN;
	END IF;
	RETURN QUERY SELECT * FROM pypeline._violations('an interval ends after it starts',
		format('SELECT pypeline_member AS example FROM (%s) m WHERE valid_to <= valid_from', members));
	RETURN QUERY SELECT * FROM pypeline._violations('the versions of a member do not overlap',
		format('SELECT pypeline_member AS example FROM (SELECT pypeline_member, valid_from, '
		       '  lag(valid_to) OVER (PARTITION BY pypeline_member ORDER BY valid_from, %s) AS previous_to FROM (%s) m) v '
		       'WHERE previous_to > valid_from', sk, members));
	IF d.deletes <> 'invalidate' THEN
		-- only a member closed by deletes => 'invalidate' may be absent for a while
		RETURN QUERY SELECT * FROM pypeline._violations('each version starts where the one before ends',
			format('SELECT pypeline_member AS example FROM (SELECT pypeline_member, valid_from, '
			       '  lag(valid_to) OVER (PARTITION BY pypeline_member ORDER BY valid_from, %s) AS previous_to FROM (%s) m) v '
			       'WHERE previous_to < valid_from', sk, members));
		RETURN QUERY SELECT * FROM pypeline._violations('every member has a current version',
			format('SELECT pypeline_member AS example FROM (%s) m GROUP BY pypeline_member '
			       'HAVING count(*) FILTER (WHERE is_current) = 0', members));
	END IF;
	RETURN QUERY SELECT * FROM pypeline._violations('a member has at most one current version',
		format('SELECT pypeline_member AS example FROM (%s) m GROUP BY pypeline_member '
		       'HAVING count(*) FILTER (WHERE is_current) > 1', members));
	RETURN QUERY SELECT * FROM pypeline._violations('the current version is the latest and ends at end_of_time',
		format('SELECT pypeline_member AS example FROM (SELECT pypeline_member, is_current, valid_to, '
		       '  valid_from = max(valid_from) OVER (PARTITION BY pypeline_member) AS latest FROM (%s) m) v '
		       'WHERE is_current AND (NOT latest OR valid_to <> %L::timestamptz)', members, d.end_of_time));
	RETURN QUERY SELECT * FROM pypeline._violations('versions are numbered 1 to n in time order',
		format('SELECT pypeline_member AS example FROM (SELECT pypeline_member, version, '
		       '  row_number() OVER (PARTITION BY pypeline_member ORDER BY valid_from, %s) AS n FROM (%s) m) v '
		       'WHERE version <> n', sk, members));
	RETURN QUERY SELECT * FROM pypeline._violations('the first version starts at beginning_of_time',
		format('SELECT pypeline_member AS example FROM (%s) m GROUP BY pypeline_member '
		       'HAVING min(valid_from) <> %L::timestamptz', members, d.beginning_of_time));
END $$;

COMMENT ON FUNCTION pypeline.check_dimension IS
'The invariants a dimension violates (none: no rows): intervals, current versions, version numbers, the unknown member';

CREATE FUNCTION pypeline.check_fact(name text)
RETURNS TABLE (invariant text, violations bigint, example text)
LANGUAGE plpgsql AS $$
DECLARE
	f pypeline.fact;
	d pypeline.dimension;
	t text;
	dt text;
	sk text;
	event text;
	lookup record;
BEGIN
	SELECT * INTO f FROM pypeline.fact WHERE fact.name = check_fact.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'fact "%" is not defined', check_fact.name
			USING ERRCODE = 'undefined_object', HINT = 'SELECT * FROM pypeline.etls lists the defined ETLs.';
	END IF;
	t := format('%I.%I', f.target_schema, f.target_table);
	IF to_regclass(t) IS NULL THEN
		RAISE EXCEPTION 'table % of fact "%" does not exist', t, f.name
			USING ERRCODE = 'undefined_table', HINT = 'Run the fact first.';
	END IF;
	-- the event time as the instant versions are compared with (as the loads read it)
	SELECT CASE WHEN a.atttypid = 'timestamptz'::regtype THEN format('f.%I', a.attname)
	            ELSE format('(CAST(f.%I AS timestamp) AT TIME ZONE ''UTC'')', a.attname) END
	INTO event FROM pg_attribute a
	WHERE a.attrelid = t::regclass AND a.attname = f.event_time_column AND NOT a.attisdropped;
	FOR lookup IN SELECT key FROM jsonb_each(f.lookups) ORDER BY key LOOP
		SELECT * INTO d FROM pypeline.dimension WHERE dimension.name = lookup.key;
		CONTINUE WHEN NOT FOUND;
		dt := format('%I.%I', d.target_schema, d.target_table);
		sk := quote_ident(d.surrogate_key);
		RETURN QUERY SELECT * FROM pypeline._violations(format('every %s key is a row of %s', d.surrogate_key, d.target),
			format('SELECT f.%s::text AS example FROM %s f WHERE NOT EXISTS (SELECT 1 FROM %s d WHERE d.%s = f.%s)',
			       sk, t, dt, sk, sk));
		-- a fact without an event time got the version current when it was loaded
		IF d.scd_type = 2 AND event IS NOT NULL THEN
			RETURN QUERY SELECT * FROM pypeline._violations(
				format('the %s version of a fact covers its event time, and no other version does', d.name),
				format('SELECT f.%1$s::text AS example FROM %2$s f JOIN %3$s v ON v.%1$s = f.%1$s '
				       'WHERE f.%1$s <> -1 AND %4$s IS NOT NULL AND (NOT (%4$s >= v.valid_from AND %4$s < v.valid_to) '
				       '  OR (SELECT count(*) FROM %3$s o WHERE ROW(%5$s) = ROW(%6$s) '
				       '      AND %4$s >= o.valid_from AND %4$s < o.valid_to) <> 1)',
				       sk, t, dt, event,
				       (SELECT string_agg('o.' || quote_ident(c), ', ') FROM unnest(d.natural_key) c),
				       (SELECT string_agg('v.' || quote_ident(c), ', ') FROM unnest(d.natural_key) c)));
		END IF;
	END LOOP;
	-- a row per key; else the degenerate columns (within a snapshot period) tell source rows apart
	IF cardinality(f.key_columns) > 0 THEN
		RETURN QUERY SELECT * FROM pypeline._violations('one row per key (key_columns)',
			format('SELECT ROW(%1$s)::text AS example FROM %2$s GROUP BY %1$s HAVING count(*) > 1',
			       (SELECT string_agg(quote_ident(c), ', ') FROM unnest(f.key_columns) c), t));
	ELSIF cardinality(f.degenerate_columns) > 0 THEN
		RETURN QUERY SELECT * FROM pypeline._violations('no source row is loaded twice (same degenerate columns)',
			format('SELECT ROW(%1$s)::text AS example FROM %2$s GROUP BY %1$s HAVING count(*) > 1',
			       (SELECT string_agg(quote_ident(c), ', ')
			        FROM unnest(f.degenerate_columns || array_remove(ARRAY[f.snapshot_column], NULL)) c), t));
	END IF;
END $$;

COMMENT ON FUNCTION pypeline.check_fact IS
'The invariants a fact table violates (none: no rows): dimension keys that exist, versions that cover the event time, rows loaded once';

-- The task functions (task.c).  _submit checks what it is given: the worker
-- that runs the task reads it back with the same checks.
CREATE FUNCTION pypeline._submit(what text, arguments jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pypeline_submit'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION pypeline.process_etl_async IS
'Runs one ETL in a background worker once this transaction commits; returns the task id';

COMMENT ON FUNCTION pypeline.refresh_data_warehouse_async IS
'Refreshes in background workers once this transaction commits: incremental refreshes run independent ETLs in parallel; returns the task id';

-- A continuous capture is a task that runs its dimension every interval until
-- revoked (worker.c).  start_capture returns the running one if there is one,
-- so a pg_cron job can call it every minute to restart a capture after a
-- server restart.
CREATE FUNCTION pypeline.start_capture(name text, kind text DEFAULT 'dimension',
	every interval DEFAULT '1 second')
RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	running bigint;
BEGIN
	PERFORM pypeline._check_choice('kind', kind, '{dimension,fact}');
	IF NOT EXISTS (SELECT 1 FROM pypeline.dimension d WHERE kind = 'dimension' AND d.name = start_capture.name AND d.capture = 'binlog'
	               UNION ALL
	               SELECT 1 FROM pypeline.fact f WHERE kind = 'fact' AND f.name = start_capture.name AND f.capture = 'binlog') THEN
		RAISE EXCEPTION '% "%" is not captured', kind, name
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = format('Define it with capture => ''binlog'' (pypeline.define_%s).', kind);
	END IF;
	IF every IS NULL OR every < interval '10 milliseconds' OR every > interval '1 day' THEN
		RAISE EXCEPTION 'a capture runs every 10 milliseconds to 1 day, not %', every
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT t.id INTO running FROM pypeline.task t
	WHERE t.what = 'capture' AND t.state IN ('PENDING', 'STARTED') AND t.submitted_by = current_user
	  AND t.arguments ->> 'name' = start_capture.name AND t.arguments ->> 'kind' = start_capture.kind
	ORDER BY t.id LIMIT 1;
	IF running IS NOT NULL THEN
		RETURN running;
	END IF;
	RETURN pypeline._submit('capture', jsonb_build_object('name', name, 'kind', kind,
		'interval_ms', greatest(10, (extract(epoch FROM every) * 1000)::bigint)));
END $$;

COMMENT ON FUNCTION pypeline.start_capture IS
'Runs a captured dimension every interval in a background worker until pypeline.stop_capture; returns the task id (the running one, if any)';

CREATE FUNCTION pypeline.stop_capture(name text, kind text DEFAULT 'dimension')
RETURNS boolean
LANGUAGE sql VOLATILE AS $$
	SELECT coalesce(bool_or(pypeline.revoke(t.id)), false) FROM pypeline.task t
	WHERE t.what = 'capture' AND t.state IN ('PENDING', 'STARTED')
	  AND t.arguments ->> 'name' = stop_capture.name AND t.arguments ->> 'kind' = stop_capture.kind
$$;

COMMENT ON FUNCTION pypeline.stop_capture IS
'Stops the continuous capture of an ETL: its current run rolls back; true if one was running';

-- The latest capture task of each ETL the caller may see, and how far it is.
CREATE VIEW pypeline.capture_status WITH (security_invoker = true) AS
	SELECT DISTINCT ON (t.arguments ->> 'kind', t.arguments ->> 'name')
	       t.arguments ->> 'kind' AS etl_type, t.arguments ->> 'name' AS etl_name, t.id AS task_id,
	       t.state, t.worker_pid, t.started_at, w.value AS binlog_position,
	       w.updated_at AS position_saved_at,
	       CASE WHEN t.state = 'STARTED' THEN clock_timestamp() - w.updated_at END AS lag,
	       coalesce((t.result ->> 'runs')::bigint, 0) AS runs,
	       coalesce((t.result ->> 'changes')::bigint, 0) AS changes_applied,
	       coalesce(t.error, t.result ->> 'last_error') AS last_error,
	       (t.result ->> 'last_error_at')::timestamptz AS last_error_at
	FROM pypeline.task t
	LEFT JOIN pypeline.watermark w ON w.etl_type = t.arguments ->> 'kind' AND w.etl_name = t.arguments ->> 'name'
	WHERE t.what = 'capture'
	ORDER BY t.arguments ->> 'kind', t.arguments ->> 'name', t.id DESC;

GRANT SELECT ON pypeline.capture_status TO PUBLIC;

CREATE FUNCTION pypeline.task_status(task_id bigint)
RETURNS text
AS 'MODULE_PATHNAME', 'pypeline_task_status'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION pypeline.task_status IS
'State of a task of yours: PENDING, STARTED, SUCCESS, FAILURE or REVOKED';

CREATE FUNCTION pypeline.task_result(task_id bigint)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pypeline_task_result'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION pypeline.task_result IS
'Result of a task of yours (one [etl_type, etl_name, rows] per ETL); the error if it failed';

CREATE FUNCTION pypeline.wait(task_id bigint, timeout interval DEFAULT '1 hour')
RETURNS text
AS 'MODULE_PATHNAME', 'pypeline_wait'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION pypeline.wait IS
'Waits until a task ends or the timeout passes; returns its state';

CREATE FUNCTION pypeline.revoke(task_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'pypeline_revoke'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION pypeline.revoke IS
'Revokes a pending or running task (and its sub-tasks): a running ETL is cancelled and rolls back';

-------------------------------------------------------------------------------
-- Schedules: pg_cron runs the job; pypeline writes its command.  pg_cron lives
-- in one database of the cluster (cron.database_name): _cron (schedule.c)
-- runs pypeline's fixed statements there as the calling role, so a
-- warehouse in any database can schedule its ETLs.
-------------------------------------------------------------------------------
CREATE FUNCTION pypeline._cron(action text, arguments text[])
RETURNS text
AS 'MODULE_PATHNAME', 'pypeline_cron'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

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
	job := pypeline._cron('schedule', ARRAY[job_name, cron_schedule, command, current_database()]);
	IF job IS NULL THEN
		RAISE EXCEPTION 'role % already has a pg_cron job named "%" in another database', current_user, job_name
			USING ERRCODE = 'duplicate_object',
			      HINT = 'pg_cron names a role''s jobs across the cluster: choose another name, or unschedule it from its database.';
	END IF;
	RETURN job;
END $$;

COMMENT ON FUNCTION pypeline.schedule IS
'Schedules a refresh (or, with etl and kind, one ETL) of this database with pg_cron, as the calling role, from any database; returns the cron job id';

CREATE FUNCTION pypeline.unschedule(job_name text)
RETURNS boolean
LANGUAGE sql VOLATILE AS $$
	SELECT pypeline._cron('unschedule', ARRAY[job_name, current_database()])::boolean
$$;

COMMENT ON FUNCTION pypeline.unschedule IS
'Removes the calling role''s pg_cron job of that name for this database; false if there is none';

-- This database's pg_cron jobs that the caller may see (pg_cron's row
-- security: a role sees its own), with their last run.
CREATE VIEW pypeline.schedules AS
	SELECT j.jobid, j.jobname AS job_name, j.schedule, j.command, j.username AS run_as, j.active,
	       j.last_start, j.last_end, j.last_status, j.last_message
	FROM jsonb_to_recordset(pypeline._cron('list', ARRAY[current_database()])::jsonb)
	     AS j(jobid bigint, jobname text, schedule text, command text, username text, active boolean,
	          last_start timestamptz, last_end timestamptz, last_status text, last_message text);

GRANT SELECT ON pypeline.schedules TO PUBLIC;
