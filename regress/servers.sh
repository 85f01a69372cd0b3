#!/usr/bin/env bash
# Throwaway MariaDB and PostgreSQL 15 (pg_cron preloaded) under one temp dir, on
# unix sockets and 127.0.0.1 only.  Source this file, then call servers_start;
# servers_stop runs from an EXIT trap so a failing test never leaves them running.
#
# After servers_start:
#   PYPELINE_TMP           the temp dir (sockets, data dirs, logs)
#   PGHOST PGPORT PGUSER   for psql/pg_regress (superuser "postgres", trust auth)
#   MYSQL_PORT MYSQL_SOCK  the MariaDB server; root over the socket, no password
#   mysql_root ...         run the mariadb client as root against it
# PostgreSQL gets the custom settings pypeline_regress.mysql_port/mysql_socket so
# SQL tests can create servers without hard-coding ports.

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGLIB=${PGLIB:-/usr/lib/postgresql/15/lib}
SERVER_USER=${SERVER_USER:-postgres}

as_server_user() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$SERVER_USER" -- "$@"
	else
		"$@"
	fi
}

port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
	local p=$1
	while port_in_use "$p"; do p=$((p + 1)); done
	echo "$p"
}

mysql_root() {
	mariadb --no-defaults --default-character-set=utf8mb4 --socket="$MYSQL_SOCK" -uroot "$@"
}

servers_start() {
	local db=${1:-contrib_regression}
	PYPELINE_TMP=$(mktemp -d /tmp/pypeline.XXXXXX)
	chmod 755 "$PYPELINE_TMP"
	if [ "$(id -u)" -eq 0 ]; then
		id "$SERVER_USER" >/dev/null 2>&1 || useradd --system --no-create-home "$SERVER_USER"
		chown "$SERVER_USER" "$PYPELINE_TMP"
	fi
	trap servers_stop EXIT
	MYSQL_PORT=$(free_port "${PYPELINE_MYSQL_PORT:-13306}")
	MYSQL_SOCK=$PYPELINE_TMP/mysql.sock
	PGPORT=$(free_port "${PYPELINE_PG_PORT:-15432}")
	PGHOST=$PYPELINE_TMP
	PGUSER=postgres
	PGDATABASE=$db
	export PYPELINE_TMP MYSQL_PORT MYSQL_SOCK PGHOST PGPORT PGUSER PGDATABASE
	start_mariadb && start_postgres "$db"
}

# A throwaway CA and a server certificate for 127.0.0.1/localhost, and a
# second CA that signed nothing, for the TLS tests.
make_certificates() {
	local d=$PYPELINE_TMP/ssl
	mkdir -p "$d"
	(
		cd "$d" || exit 1
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=pypeline test CA" \
			-keyout ca-key.pem -out ca.pem
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=unrelated CA" \
			-keyout other-ca-key.pem -out other-ca.pem
		openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
			-keyout server-key.pem -out server.csr
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
			-days 2 -extfile san.ext -out server-cert.pem
	) >"$PYPELINE_TMP/ssl.log" 2>&1 || { cat "$PYPELINE_TMP/ssl.log" >&2; return 1; }
	chmod 755 "$d"
	chmod 644 "$d"/*
}

start_mariadb() {
	make_certificates || return 1
	as_server_user mariadb-install-db --no-defaults --datadir="$PYPELINE_TMP/mysql" \
		--auth-root-authentication-method=normal --skip-test-db >"$PYPELINE_TMP/mysql-install.log" 2>&1 ||
		{ cat "$PYPELINE_TMP/mysql-install.log" >&2; return 1; }
	run_mariadb
}

# Starts mariadbd on the existing data dir (also after a fault test killed it).
# The binary log is on, row-based with full row images, as change data
# capture needs it (doc/design.md, "Change data capture").
run_mariadb() {
	as_server_user mariadbd --no-defaults --datadir="$PYPELINE_TMP/mysql" \
		--socket="$MYSQL_SOCK" --port="$MYSQL_PORT" --bind-address=127.0.0.1 \
		--pid-file="$PYPELINE_TMP/mysql.pid" --log-error="$PYPELINE_TMP/mysql.log" \
		--skip-name-resolve --innodb-buffer-pool-size=256M \
		--innodb-flush-log-at-trx-commit=2 --max-connections=200 \
		--ssl-ca="$PYPELINE_TMP/ssl/ca.pem" --ssl-cert="$PYPELINE_TMP/ssl/server-cert.pem" \
		--ssl-key="$PYPELINE_TMP/ssl/server-key.pem" \
		--server-id=1 --log-bin="$PYPELINE_TMP/mysql/binlog" --binlog-format=ROW \
		--binlog-row-image=FULL \
		>>"$PYPELINE_TMP/mysql.log" 2>&1 &
	disown
	local i
	for i in $(seq 1 60); do
		mysql_root -e 'SELECT 1' >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	echo "MariaDB did not start; its log:" >&2
	cat "$PYPELINE_TMP/mysql.log" >&2
	return 1
}

# make check SANITIZE=1: a private copy of PostgreSQL under the temp dir,
# with the instrumented pypeline from PYPELINE_DESTDIR (make install
# DESTDIR=...) in it; PGBIN points there from now on.
sanitize_install() {
	local root=$PYPELINE_TMP/install d
	for d in "$("$PGBIN/pg_config" --bindir)" "$("$PGBIN/pg_config" --pkglibdir)" \
		"$("$PGBIN/pg_config" --sharedir)"; do
		mkdir -p "$root$(dirname "$d")" && cp -a "$d" "$root$d" || return 1
	done
	cp -a "$PYPELINE_DESTDIR"/. "$root"/ || return 1
	gcc -shared -fPIC -O2 -Wl,-z,initfirst -o "$root/asan_init_first.so" \
		"$(dirname "${BASH_SOURCE[0]}")/asan_init_first.c" || return 1
	PGBIN=$root$("$PGBIN/pg_config" --bindir)
	export PGBIN
}

# The environment of the sanitized server (into the array sanitize_env): the
# ASan runtime comes first in every server process, initialized before any
# other library (asan_init_first.c says why); a report aborts the process
# after writing $PYPELINE_TMP/sanitizer.<pid>, which check.sh shows and
# counts.  PostgreSQL's allocator makes leak reports noise.
sanitize_env=()
set_sanitize_env() {
	sanitize_env=(env LD_PRELOAD="$(gcc -print-file-name=libasan.so) $PYPELINE_TMP/install/asan_init_first.so"
		ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:detect_odr_violation=0:log_path=$PYPELINE_TMP/sanitizer"
		UBSAN_OPTIONS="print_stacktrace=1:log_path=$PYPELINE_TMP/sanitizer")
}

start_postgres() {
	local db=$1
	if [ -n "${SANITIZE:-}" ]; then
		sanitize_install || { echo "could not make the private PostgreSQL for SANITIZE" >&2; return 1; }
		set_sanitize_env
	fi
	as_server_user "$PGBIN/initdb" -D "$PYPELINE_TMP/pg" -U postgres --auth=trust \
		--no-sync -E UTF8 --locale=C >"$PYPELINE_TMP/initdb.log" 2>&1 ||
		{ cat "$PYPELINE_TMP/initdb.log" >&2; return 1; }
	cat >>"$PYPELINE_TMP/pg/postgresql.conf" <<-CONF
		port = $PGPORT
		listen_addresses = ''
		unix_socket_directories = '$PYPELINE_TMP'
		shared_preload_libraries = 'pg_cron'
		cron.database_name = '$db'
		cron.use_background_workers = on
		fsync = off
		synchronous_commit = off
		max_worker_processes = 16
		log_line_prefix = '%m [%p] %q%a '
		pypeline_regress.mysql_port = '$MYSQL_PORT'
		pypeline_regress.mysql_socket = '$MYSQL_SOCK'
		pypeline_regress.ssl_dir = '$PYPELINE_TMP/ssl'
	CONF
	as_server_user "${sanitize_env[@]}" "$PGBIN/pg_ctl" -D "$PYPELINE_TMP/pg" -l "$PYPELINE_TMP/postgres.log" -w -t 60 start >/dev/null ||
		{ cat "$PYPELINE_TMP/postgres.log" >&2; return 1; }
}

servers_stop() {
	[ -n "${PYPELINE_TMP:-}" ] || return 0
	if [ -f "$PYPELINE_TMP/pg/postmaster.pid" ]; then
		as_server_user "$PGBIN/pg_ctl" -D "$PYPELINE_TMP/pg" -m immediate -w stop >/dev/null 2>&1
	fi
	if [ -f "$PYPELINE_TMP/mysql.pid" ]; then
		kill -9 "$(cat "$PYPELINE_TMP/mysql.pid")" 2>/dev/null
	fi
	if [ -z "${KEEP_TMP:-}" ]; then
		rm -rf "$PYPELINE_TMP"
	else
		echo "kept $PYPELINE_TMP"
	fi
	PYPELINE_TMP=
}
