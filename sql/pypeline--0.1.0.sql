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
