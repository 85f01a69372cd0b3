#!/usr/bin/env bash
# Helpers shared by contrib/bench/run.sh and contrib/bench/rss.sh.  Source it
# from the repository root after regress/servers.sh.
#
# The MariaDB side has an account etl/etl_secret (mysql_native_password, which
# every client used here speaks: pypeline, mysql_fdw, pgloader, the mariadb
# client) with rights on the database "bench"; all clients reach MariaDB over
# TCP on 127.0.0.1, the way a warehouse reaches a remote source.

BENCH_MYSQL_DB=bench
BENCH_MYSQL_USER=etl
BENCH_MYSQL_PASSWORD=etl_secret

# The mariadb client as the etl account over TCP, in the bench database.
mariadb_etl() {
	MYSQL_PWD=$BENCH_MYSQL_PASSWORD mariadb --no-defaults --default-character-set=utf8mb4 \
		--protocol=TCP -h 127.0.0.1 -P "$MYSQL_PORT" -u "$BENCH_MYSQL_USER" "$BENCH_MYSQL_DB" "$@"
}

# psql with no .psqlrc, quiet, unaligned, stop on the first error, no NOTICEs.
bench_psql() {
	PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" psql -X -q -A -t -v ON_ERROR_STOP=1 "$@"
}

# Creates the bench database and the etl account, and gives the buffer pool
# room for the whole source so the loaders, not MariaDB's disk reads, are
# what is measured (the test servers start with 256 MB).
bench_setup_mariadb() {
	mysql_root <<-SQL
		SET GLOBAL innodb_buffer_pool_size = 4 * 1024 * 1024 * 1024;
		CREATE DATABASE IF NOT EXISTS $BENCH_MYSQL_DB CHARACTER SET utf8mb4;
		CREATE USER IF NOT EXISTS $BENCH_MYSQL_USER@'%'
			IDENTIFIED VIA mysql_native_password USING PASSWORD('$BENCH_MYSQL_PASSWORD');
		CREATE USER IF NOT EXISTS $BENCH_MYSQL_USER@localhost
			IDENTIFIED VIA mysql_native_password USING PASSWORD('$BENCH_MYSQL_PASSWORD');
		GRANT SELECT, SHOW VIEW, LOCK TABLES ON $BENCH_MYSQL_DB.* TO $BENCH_MYSQL_USER@'%';
		GRANT SELECT, SHOW VIEW, LOCK TABLES ON $BENCH_MYSQL_DB.* TO $BENCH_MYSQL_USER@localhost;
	SQL
}

# pypeline in the current PostgreSQL database, with a server "bench" and a
# user mapping for the etl account, plus bench_memory(): the backend's peak
# (VmHWM), current anonymous and current shared-memory RSS in kB, read from
# /proc/<pg_backend_pid()>/status.
bench_setup_pypeline() {
	bench_psql <<-SQL
		SET client_min_messages = warning;
		CREATE EXTENSION IF NOT EXISTS pypeline;
		DROP SERVER IF EXISTS bench CASCADE;
		CREATE SERVER bench FOREIGN DATA WRAPPER pypeline_mysql
			OPTIONS (host '127.0.0.1', port '$MYSQL_PORT', dbname '$BENCH_MYSQL_DB');
		CREATE USER MAPPING FOR CURRENT_USER SERVER bench
			OPTIONS (username '$BENCH_MYSQL_USER', password '$BENCH_MYSQL_PASSWORD');
		CREATE OR REPLACE FUNCTION bench_memory(OUT peak_kb bigint, OUT anon_kb bigint, OUT shmem_kb bigint)
		LANGUAGE sql AS \$\$
			SELECT substring(s FROM 'VmHWM:\s*(\d+)')::bigint,
			       substring(s FROM 'RssAnon:\s*(\d+)')::bigint,
			       substring(s FROM 'RssShmem:\s*(\d+)')::bigint
			FROM pg_read_file('/proc/' || pg_backend_pid() || '/status') AS s
		\$\$;
	SQL
}

# Wall-clock timing: bench_t0; ...; bench_t1 sets ELAPSED (seconds, 3 decimals).
bench_t0() {
	BENCH_T0=$(date +%s%N)
}

bench_t1() {
	ELAPSED=$(awk -v a="$BENCH_T0" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
}

# Samples the RssAnon of process $1 every 50 ms until file $3 exists or the
# process ends, keeping the highest value (kB) in file $2.  VmHWM counts the
# shared buffers a backend touched as well; this isolates its private memory.
bench_anon_sampler() {
	local pid=$1 out=$2 stop=$3 max=0 k v _
	echo 0 >"$out"
	while [ ! -e "$stop" ] && [ -e "/proc/$pid" ]; do
		while read -r k v _; do
			if [ "$k" = RssAnon: ] && [ "$v" -gt "$max" ]; then
				max=$v
				echo "$max" >"$out"
			fi
		done <"/proc/$pid/status" 2>/dev/null
		sleep 0.05
	done
}

# A result that differs between tools, or a run that failed: said loudly, and
# the script exits non-zero at its end (FAILED).
FAILED=0
mismatch() {
	echo
	echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
	echo "!!! MISMATCH: $*"
	echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
	echo
	FAILED=1
}
