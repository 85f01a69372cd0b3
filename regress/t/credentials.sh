#!/usr/bin/env bash
# A non-superuser cannot borrow the PostgreSQL server's OS identity on MySQL:
# over the unix socket, MariaDB's unix_socket plugin would log it in as the
# OS user whatever its mapping's password.  Such a connection is refused,
# "localhost" without a socket is TCP (where the plugin cannot apply), and
# only a superuser may exempt a mapping (password_required 'false').
cd "$(dirname "$0")/../.." || exit 1
. regress/t/lib.sh

os_user=$(stat -c %U "$PYPELINE_TMP/pg")
cleanup_mysql() {
	t_mysql -e "DROP USER IF EXISTS '$os_user'@localhost"
}
cleanup_roles() {
	cleanup_mysql
	timeout 30 psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $T_DB WITH (FORCE)" \
		-c "DROP ROLE IF EXISTS regress_tc_alice" >/dev/null 2>&1
}
T_CLEANUP=cleanup_roles
trap t_finish EXIT

t_ensure_mariadb
if ! t_setup_db; then
	t_not_ok "credentials: set-up"
	exit 1
fi
t_mysql -e "CREATE USER '$os_user'@localhost IDENTIFIED VIA unix_socket; GRANT SELECT ON pypeline_regress.* TO '$os_user'@localhost"
t_psql >/dev/null <<SQL
CREATE ROLE regress_tc_alice LOGIN;
CREATE SERVER sock FOREIGN DATA WRAPPER pypeline_mysql OPTIONS (socket '$MYSQL_SOCK', dbname 'pypeline_regress');
CREATE SERVER local_tcp FOREIGN DATA WRAPPER pypeline_mysql
	OPTIONS (host 'localhost', port '$MYSQL_PORT', dbname 'pypeline_regress', ssl_mode 'DISABLED');
GRANT USAGE ON FOREIGN SERVER sock, local_tcp TO regress_tc_alice;
CREATE USER MAPPING FOR regress_tc_alice SERVER sock OPTIONS (username '$os_user', password 'anything');
CREATE USER MAPPING FOR regress_tc_alice SERVER local_tcp OPTIONS (username '$os_user', password 'anything');
CREATE USER MAPPING FOR CURRENT_USER SERVER sock OPTIONS (username '$os_user');
SQL
query="SELECT * FROM pypeline.query('%s', 'SELECT CURRENT_USER()') AS t(account text)"

out=$(t_psql -c "SET ROLE regress_tc_alice" -c "$(printf "$query" sock)" 2>&1)
t_like "$out" 'non-superusers cannot connect to MySQL server "sock" over its unix socket' \
	"credentials: a non-superuser's mapping may not use the unix socket"
out=$(t_psql -c "SET ROLE regress_tc_alice" -c "$(printf "$query" local_tcp)" 2>&1)
t_like "$out" 'Access denied' "credentials: host 'localhost' is TCP, where the socket identity does not apply"
out=$(t_psql -c "SET ROLE regress_tc_alice" \
	-c "ALTER USER MAPPING FOR regress_tc_alice SERVER sock OPTIONS (ADD password_required 'false')" 2>&1)
t_like "$out" "password_required 'false' is superuser-only" "credentials: only a superuser may exempt a mapping"
# the identity exists: a superuser reaches it, and may let a role use it
t_is "$(t_psql -c "$(printf "$query" sock)" 2>&1)" "$os_user@localhost" \
	"credentials: a superuser's mapping may use the socket"
t_psql -c "ALTER USER MAPPING FOR regress_tc_alice SERVER sock OPTIONS (ADD password_required 'false')" >/dev/null
t_is "$(t_psql -c "SET ROLE regress_tc_alice" -c "$(printf "$query" sock)" 2>&1)" "$os_user@localhost" \
	"credentials: and so may a role whose mapping a superuser exempted"
