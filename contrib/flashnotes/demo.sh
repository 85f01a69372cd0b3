#!/usr/bin/env bash
# make demo: the Flashnotes warehouse end to end, as a tutorial.
#
# Starts a throwaway MariaDB and PostgreSQL 15 (regress/servers.sh), loads the
# Flashnotes sample source into MariaDB, defines the ETLs of
# contrib/flashnotes/etl.sql, runs a full load, applies changes.sql, runs an
# incremental load and prints a star-join report.  Run from the repository
# root after `make install`:
#
#   bash contrib/flashnotes/demo.sh
#
# Environment:
#   DEMO_USERS     users to generate (default 2000; at least 100)
#   DEMO_PAYMENTS  payments to generate (default 20000)
#   KEEP=1         leave both servers running at the end and print how to
#                  connect to them (also after a failure)
#
# Exits non-zero as soon as a step fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

users=${DEMO_USERS:-2000}
payments=${DEMO_PAYMENTS:-20000}
case "$users$payments" in
*[!0-9]*)
	echo "DEMO_USERS and DEMO_PAYMENTS must be whole numbers" >&2
	exit 2
	;;
esac
# generate.sql raises fewer users to 100 (changes.sql edits users 1..100)
if [ "$users" -lt 100 ]; then
	users=100
fi

started=$(date +%s)
here=$(pwd)
db=flashnotes_dw
etl_password=flashnotes_etl

heading() {
	printf '\n'
	printf '=%.0s' {1..78}
	printf '\n== %s\n' "$1"
	printf '=%.0s' {1..78}
	printf '\n'
	shift
	# the rest: explanatory lines
	local line
	for line in "$@"; do
		printf '%s\n' "$line"
	done
	printf '\n'
}

# psql on the warehouse: no ~/.psqlrc, stop at the first error, times in UTC
# like the source.  LOG lines (the old tool's log) come on stderr; merged with
# the results and without psql's "LOG:  " prefix they read like its run.log.
warehouse() {
	PGTZ=UTC psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"
}
warehouse_show() {
	warehouse --echo-queries "$@" 2>&1 | sed -u 's/^LOG:  //'
}

. regress/servers.sh

heading "1. Throwaway servers" \
	"MariaDB (the OLTP source) and PostgreSQL 15 with pg_cron (the warehouse)," \
	"under a temporary directory, on 127.0.0.1 and unix sockets only."
servers_start "$db" || { echo "could not start the servers" >&2; exit 1; }

finish() {
	local rc=$?
	set +e
	if [ "${KEEP:-}" = 1 ] && [ -n "${PYPELINE_TMP:-}" ]; then
		heading "Servers left running (KEEP=1)" \
			"PostgreSQL (warehouse):" \
			"  psql -h $PGHOST -p $PGPORT -U $PGUSER $db" \
			"  (or: export PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER; psql $db)" \
			"MariaDB (source, root over the socket; or etl/$etl_password on 127.0.0.1:$MYSQL_PORT):" \
			"  mariadb --socket=$MYSQL_SOCK -uroot flashnotes" \
			"Stop both and remove $PYPELINE_TMP with:" \
			"  (cd $here && PYPELINE_TMP=$PYPELINE_TMP bash -c '. regress/servers.sh; servers_stop')"
	else
		servers_stop
	fi
	if [ "$rc" -ne 0 ]; then
		echo "demo FAILED (exit status $rc)" >&2
	fi
	exit "$rc"
}
trap finish EXIT

echo "MariaDB    127.0.0.1:$MYSQL_PORT, socket $MYSQL_SOCK"
echo "PostgreSQL socket dir $PGHOST, port $PGPORT, database $db"
"$PGBIN/createdb" "$db"

heading "2. The source: Flashnotes in MariaDB ($users users, $payments payments)" \
	"contrib/flashnotes/schema.sql, then generate.sql; the warehouse reads it as" \
	"user etl, which may only SELECT."
mysql_root <<-SQL
	CREATE DATABASE flashnotes CHARACTER SET utf8mb4;
	CREATE USER etl@'%' IDENTIFIED BY '$etl_password';
	CREATE USER etl@localhost IDENTIFIED BY '$etl_password';
	GRANT SELECT ON flashnotes.* TO etl@'%';
	GRANT SELECT ON flashnotes.* TO etl@localhost;
SQL
mysql_root flashnotes <contrib/flashnotes/schema.sql
{
	printf 'SET @users = %d, @payments = %d;\n' "$users" "$payments"
	cat contrib/flashnotes/generate.sql
} | mysql_root flashnotes
mysql_root --table flashnotes <<-'SQL'
	SELECT 'schools' AS source_table, COUNT(*) AS `rows` FROM schools
	UNION ALL SELECT 'courses', COUNT(*) FROM courses
	UNION ALL SELECT 'users', COUNT(*) FROM users
	UNION ALL SELECT 'products', COUNT(*) FROM products
	UNION ALL SELECT 'payments', COUNT(*) FROM payments
	UNION ALL SELECT 'disability_enrollments', COUNT(*) FROM disability_enrollments
	UNION ALL SELECT 'payment_sources', COUNT(*) FROM payment_sources
	UNION ALL SELECT 'affiliates', COUNT(*) FROM affiliates
	UNION ALL SELECT 'sites', COUNT(*) FROM sites
	UNION ALL SELECT 'disability_programs', COUNT(*) FROM disability_programs;
SQL

heading "3. pypeline: the extension, the source server, the ETL definitions" \
	"The server and the user mapping hold the connection and its secret; the" \
	"definitions (contrib/flashnotes/etl.sql, the old config.py, sources.py," \
	"creates.py, dimensions.py and facts.py) are rows in pypeline's catalog."
warehouse_show <<-SQL
	CREATE EXTENSION pypeline;
	CREATE SERVER flashnotes FOREIGN DATA WRAPPER pypeline_mysql
	  OPTIONS (host '127.0.0.1', port '$MYSQL_PORT', dbname 'flashnotes');
	CREATE USER MAPPING FOR CURRENT_USER SERVER flashnotes
	  OPTIONS (username 'etl', password '$etl_password');
SQL
echo '\i contrib/flashnotes/etl.sql'
warehouse -o /dev/null -f contrib/flashnotes/etl.sql
warehouse_show <<-'SQL'
	SELECT etl_type, etl_name, kind, target FROM pypeline.etls;
SQL

heading "4. Check the dimension sources (the old run.py --test_dimension_source)" \
	"Reads every active dimension's source query; writes nothing."
warehouse_show <<-'SQL'
	SELECT * FROM pypeline.test_dimension_source();
SQL

heading "5. Full load (the old run.py --run_dimensions --run_facts --delete_existing_tables)" \
	"Every dimension in definition order, then the fact, in one transaction." \
	"The old tool's log lines are LOG messages: SET client_min_messages = log."
warehouse_show <<-'SQL'
	SET client_min_messages = log;
	SELECT * FROM pypeline.refresh_data_warehouse(true, true, true);
SQL
old_watermark=$(warehouse -At -c "SELECT value FROM pypeline.watermark WHERE etl_type = 'fact' AND etl_name = 'payment'")
warehouse_show <<-'SQL'
	SELECT etl_name, value AS last_payment_id_loaded FROM pypeline.watermark;
SQL

heading "6. The source changes (contrib/flashnotes/changes.sql, dated 2016-01-15)" \
	"Users 5, 17, 29, 41, 53 change their e-mail address (type 1); users 10, 20," \
	"..., 100 move to another state (type 2); schools 21 and 22 are renamed and" \
	"three schools are added; 100 new payments, the first ten by the users who" \
	"move, made before they moved."
mysql_root flashnotes <contrib/flashnotes/changes.sql
echo "applied."

heading "7. Incremental load: refresh_data_warehouse(true, true, false)" \
	"Dimensions merge (type 1 in place, type 2 new versions only for real" \
	"changes); the fact reads only payments past its watermark."
last_run=$(warehouse -At -c "SELECT coalesce(max(id), 0) FROM pypeline.run_log")
warehouse_show <<-'SQL'
	SET client_min_messages = log;
	SELECT * FROM pypeline.refresh_data_warehouse(true, true, false);
SQL
warehouse_show -v last_run="$last_run" <<-'SQL'
	SELECT etl_type, etl_name, rows_read, rows_inserted, rows_updated, rows_unchanged
	FROM pypeline.run_log WHERE id > :last_run ORDER BY id;
SQL

heading "8. What the incremental load did" \
	"Type 2: the users who moved have a closed version 1 and a current version 2," \
	"valid from the source's updated_at.  Type 1: e-mail addresses and school names" \
	"changed in place.  The new payments of the movers point at version 1: the" \
	"lookup is as of the payment's created_at."
warehouse_show -v old_watermark="$old_watermark" <<-'SQL'
	SELECT user_id, state, valid_from, valid_to, version, is_current
	FROM user_dim
	WHERE user_id IN (SELECT user_id FROM user_dim WHERE version > 1)
	ORDER BY user_id, version;
	SELECT user_id, email, version FROM user_dim WHERE user_id IN (5, 17, 29, 41, 53) ORDER BY user_id;
	SELECT school_key, school_id, name, state FROM school_dim WHERE school_id IN (21, 22) OR school_id > 1687
	ORDER BY school_id;
	SELECT count(*) AS new_fact_rows, sum(f.amount) AS new_revenue,
	       count(*) FILTER (WHERE NOT u.is_current) AS by_old_user_versions
	FROM payment_fact f JOIN user_dim u USING (user_key)
	WHERE f.payment_id > :old_watermark;
SQL

heading "9. Report: revenue by school state, July to December 2015 (top 10 states)" \
	"A star join: payment_fact with date_dim and school_dim."
warehouse_show <<-'SQL'
	SELECT coalesce(s.state, '--') AS state,
	       sum(f.amount) FILTER (WHERE d.month = 7)  AS "2015-07",
	       sum(f.amount) FILTER (WHERE d.month = 8)  AS "2015-08",
	       sum(f.amount) FILTER (WHERE d.month = 9)  AS "2015-09",
	       sum(f.amount) FILTER (WHERE d.month = 10) AS "2015-10",
	       sum(f.amount) FILTER (WHERE d.month = 11) AS "2015-11",
	       sum(f.amount) FILTER (WHERE d.month = 12) AS "2015-12",
	       sum(f.amount) AS total
	FROM payment_fact f
	JOIN date_dim d USING (date_key)
	JOIN school_dim s USING (school_key)
	WHERE d.year = 2015 AND d.month >= 7
	GROUP BY s.state
	ORDER BY total DESC, state
	LIMIT 10;
SQL

heading "Done" "The demo took $(($(date +%s) - started)) s."
