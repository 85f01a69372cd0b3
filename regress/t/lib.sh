# Helpers shared by the fault tests in regress/t/*.sh, which source it.
# (check.sh also runs this file like a test: then it does nothing.)
#
# A test sources this file from the repository root with the environment of
# regress/check.sh (PYPELINE_TMP, MYSQL_PORT, MYSQL_SOCK, PGHOST, PGPORT,
# PGUSER), calls t_setup_db to get a database of its own with the extension
# and a server "src" on the test MariaDB (TCP, account etl), and reports each
# check with t_ok / t_not_ok / t_check / t_is ("ok - ..." / "not ok - ...").
# Diagnostics start with "# ".  t_finish (from an EXIT trap) stops what the
# test started, resumes or restarts MariaDB and drops the database.

# check.sh runs every regress/t/*.sh, this one too: run on its own, it does nothing.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	exit 0
fi

. regress/servers.sh

T_NAME=$(basename "$0" .sh)
T_DB=pypeline_t_$T_NAME
T_WORK=$(mktemp -d "/tmp/pypeline_t_$T_NAME.XXXXXX")
chmod 755 "$T_WORK"
T_BG_PIDS=()
T_PASSED=0
T_FAILED=0

t_ok() {
	echo "ok - $*"
	T_PASSED=$((T_PASSED + 1))
}

t_not_ok() {
	echo "not ok - $*"
	T_FAILED=$((T_FAILED + 1))
}

# Lines of a diagnostic, prefixed so that check.sh never counts them.
t_diag() {
	if [ $# -gt 0 ]; then
		printf '%s\n' "$*" | sed 's/^/# /'
	else
		sed 's/^/# /'
	fi
}

# t_check DESCRIPTION COMMAND...: ok when the command succeeds.
t_check() {
	local desc=$1
	shift
	if "$@"; then
		t_ok "$desc"
	else
		t_not_ok "$desc"
		return 1
	fi
}

# t_is GOT EXPECTED DESCRIPTION
t_is() {
	if [ "$1" = "$2" ]; then
		t_ok "$3"
	else
		t_not_ok "$3"
		t_diag "got:      $1"
		t_diag "expected: $2"
		return 1
	fi
}

# t_like TEXT REGEX DESCRIPTION (extended regex, matched anywhere, multi-line text)
t_like() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		t_ok "$3"
	else
		t_not_ok "$3"
		t_diag "no match for /$2/ in:"
		printf '%s\n' "$1" | head -20 | t_diag
		return 1
	fi
}

# t_unlike TEXT REGEX DESCRIPTION
t_unlike() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		t_not_ok "$3"
		t_diag "unexpected match for /$2/:"
		printf '%s\n' "$1" | grep -E -- "$2" | head -10 | t_diag
		return 1
	else
		t_ok "$3"
	fi
}

t_now_ms() {
	date +%s%3N
}

# psql on the test's database, unaligned and quiet; never runs longer than
# T_PSQL_TIMEOUT seconds (default 60).
t_psql() {
	timeout -k 5 "${T_PSQL_TIMEOUT:-60}" psql -X -q -v ON_ERROR_STOP=1 -At -d "$T_DB" "$@"
}

# One SQL statement's output (stdout only; errors go to the test's stderr).
t_sql() {
	t_psql -c "$1"
}

# t_sql_capture OUTFILE SQL: runs SQL, stdout+stderr into OUTFILE; returns psql's status.
t_sql_capture() {
	local out=$1
	shift
	t_psql -c "$1" >"$out" 2>&1
}

# t_bg OUTFILE APPNAME SQL...: runs psql in the background with the given
# application_name (so the test can find its backend); each SQL is a -c.
# The pid of the background job is in T_BG_PID (t_wait_pid waits for it);
# output and errors go to OUTFILE, psql's exit status to OUTFILE.rc.
t_bg() {
	local out=$1 app=$2
	shift 2
	local args=() s
	for s in "$@"; do args+=(-c "$s"); done
	(
		PGAPPNAME=$app timeout -k 5 "${T_BG_TIMEOUT:-120}" psql -X -v ON_ERROR_STOP=1 -At -d "$T_DB" \
			"${args[@]}" >"$out" 2>&1 </dev/null &
		echo $! >"$out.pid"
		wait $!
		echo $? >"$out.rc"
	) &
	T_BG_PID=$!
	T_BG_PIDS+=("$T_BG_PID:$out.pid")
}

# t_wait_pid PID SECONDS: waits until the process ends; 1 if it still runs.
t_wait_pid() {
	local pid=$1 deadline=$(($(t_now_ms) + $2 * 1000))
	while kill -0 "$pid" 2>/dev/null; do
		[ "$(t_now_ms)" -ge "$deadline" ] && return 1
		sleep 0.05
	done
	wait "$pid" 2>/dev/null
	return 0
}

# t_wait_sql SECONDS SQL: waits until SQL (on the test database) returns "t".
t_wait_sql() {
	local deadline=$(($(t_now_ms) + $1 * 1000))
	while :; do
		[ "$(T_PSQL_TIMEOUT=10 t_sql "$2" 2>/dev/null)" = t ] && return 0
		[ "$(t_now_ms)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# The backend pid of a background session, by application_name ("" if none).
t_backend_pid() {
	T_PSQL_TIMEOUT=10 t_sql "SELECT pid FROM pg_stat_activity WHERE application_name = '$1' LIMIT 1"
}

# ---------------------------------------------------------------- MariaDB

# mariadb client as root on the test database, batch mode, bounded.
t_mysql() {
	timeout -k 5 "${T_MYSQL_TIMEOUT:-60}" mariadb --no-defaults --default-character-set=utf8mb4 \
		--socket="$MYSQL_SOCK" -uroot -N -B pypeline_regress "$@"
}

t_mysql_up() {
	T_MYSQL_TIMEOUT=5 t_mysql -e 'SELECT 1' >/dev/null 2>&1
}

t_mariadb_pid() {
	cat "$PYPELINE_TMP/mysql.pid" 2>/dev/null
}

# Statements running on MariaDB whose text matches a LIKE pattern (not the
# asking connection itself): "id<TAB>state" lines.
t_mysql_queries() {
	T_MYSQL_TIMEOUT=10 t_mysql -e "SELECT id, state FROM information_schema.processlist
		WHERE info LIKE '$1' AND id <> CONNECTION_ID()" 2>/dev/null
}

# t_wait_mysql_query PATTERN SECONDS [STATE]: waits until a statement matching
# PATTERN runs on MariaDB (in the given state, e.g. "User sleep", if any).
t_wait_mysql_query() {
	local deadline=$(($(t_now_ms) + $2 * 1000)) state=${3:-}
	while :; do
		if [ -n "$state" ]; then
			t_mysql_queries "$1" | cut -f2 | grep -qx "$state" && return 0
		else
			[ -n "$(t_mysql_queries "$1")" ] && return 0
		fi
		[ "$(t_now_ms)" -ge "$deadline" ] && return 1
		sleep 0.05
	done
}

# t_wait_mysql_query_gone PATTERN SECONDS
t_wait_mysql_query_gone() {
	local deadline=$(($(t_now_ms) + $2 * 1000))
	while [ -n "$(t_mysql_queries "$1")" ]; do
		[ "$(t_now_ms)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
	return 0
}

# True if the process exists and is not a zombie.
t_alive() {
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null && ! ps -o stat= -p "$1" | grep -q '^Z'
}

# Resumes a SIGSTOPped mariadbd.  When the servers run as root, mariadbd is
# a child of runuser, which stops itself when its child stops (job control
# of su) and is not resumed with it: left stopped, it would never reap
# mariadbd, which would stay a zombie after its next death.
t_resume_mariadb() {
	local pid=$1 parent
	[ -n "$pid" ] || return 0
	kill -CONT "$pid" 2>/dev/null
	parent=$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')
	if [ -n "$parent" ] && ps -o args= -p "$parent" 2>/dev/null | grep -q '^runuser '; then
		kill -CONT "$parent" 2>/dev/null
	fi
}

# Makes sure MariaDB runs and answers: resumes a stopped one, restarts a
# dead one (run_mariadb waits for it), waits up to 60 s.
t_ensure_mariadb() {
	local pid
	pid=$(t_mariadb_pid)
	t_resume_mariadb "$pid"
	local i
	for i in $(seq 1 20); do
		t_mysql_up && return 0
		t_alive "$pid" || break
		sleep 0.5
	done
	if ! t_alive "$pid"; then
		# In a subshell whose descriptors are replaced for good: a
		# redirection of the function call itself would leave copies of
		# the test's stdout (check.sh's pipe to tee) in the background
		# shell that waits for mariadbd, and check.sh would never end.
		(
			exec </dev/null >/dev/null 2>&1
			run_mariadb
		)
	fi
	for i in $(seq 1 120); do
		t_mysql_up && return 0
		sleep 0.5
	done
	echo "# MariaDB does not answer" >&2
	return 1
}

# ---------------------------------------------------------------- set-up

# A database of the test's own with the extension, a server "src" on the
# test MariaDB over TCP and a user mapping for postgres (account etl).
# Extra server options may be given as "name 'value', ...".
t_setup_db() {
	timeout 60 psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "SET client_min_messages = warning" \
		-c "DROP DATABASE IF EXISTS $T_DB WITH (FORCE)" -c "CREATE DATABASE $T_DB" >/dev/null || return 1
	t_psql >/dev/null <<-SQL
		CREATE EXTENSION pypeline;
		CREATE SERVER src FOREIGN DATA WRAPPER pypeline_mysql
			OPTIONS (host '127.0.0.1', port '$MYSQL_PORT', dbname 'pypeline_regress');
		CREATE USER MAPPING FOR CURRENT_USER SERVER src
			OPTIONS (username 'etl', password 'etl_secret');
	SQL
}

# t_wait_failures ETL_NAME COUNT [SECONDS]: waits until pypeline.run_log has
# COUNT failure rows of the ETL (a worker of their own writes them, after
# the failed call has returned); prints the count found.
t_wait_failures() {
	local deadline=$(($(t_now_ms) + ${3:-10} * 1000)) n
	while :; do
		n=$(T_PSQL_TIMEOUT=10 t_sql "SELECT count(*) FROM pypeline.run_log WHERE status = 'failure' AND etl_name = '$1'" 2>/dev/null)
		if [ "${n:-0}" -ge "$2" ] || [ "$(t_now_ms)" -ge "$deadline" ]; then
			echo "${n:-0}"
			return 0
		fi
		sleep 0.1
	done
}

# md5 of a table's rows in a stable order (text form of each row).
t_checksum() {
	T_PSQL_TIMEOUT=${T_PSQL_TIMEOUT:-120} t_sql "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM $1 t"
}

# Stops what the test started, resumes/restarts MariaDB, drops the database
# and the work directory.  Runs from the test's EXIT trap; a test may pass a
# function name in T_CLEANUP for its own MariaDB clean-up (run after MariaDB
# is back).
t_finish() {
	local job pid
	for job in "${T_BG_PIDS[@]}"; do
		pid=${job%%:*}
		kill -0 "$pid" 2>/dev/null || continue
		# the timeout(1) process passes the signal on to its psql
		kill "$(cat "${job#*:}" 2>/dev/null)" 2>/dev/null
		t_wait_pid "$pid" 10 || kill -9 "$pid" 2>/dev/null
	done
	t_ensure_mariadb
	[ -n "${T_CLEANUP:-}" ] && "$T_CLEANUP" >/dev/null 2>&1
	timeout 60 psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $T_DB WITH (FORCE)" >/dev/null 2>&1
	rm -rf "$T_WORK"
}

# ---------------------------------------------------------------- crashes

# The size of the PostgreSQL server log now; t_crashes_since OFFSET prints
# the lines written since that show a process that died of a signal (a
# crash restarts every session of the cluster).
t_log_offset() {
	stat -c %s "$PYPELINE_TMP/postgres.log"
}

t_crashes_since() {
	tail -c +"$(($1 + 1))" "$PYPELINE_TMP/postgres.log" |
		grep -E 'terminated by signal|was terminated by exception|server process .* exited with exit code [^0]|terminating any other active server processes'
}

t_pg_up() {
	[ "$(timeout -k 2 10 psql -X -At -d postgres -c "SELECT NOT pg_is_in_recovery()" 2>/dev/null)" = t ]
}

# t_crash_kill TEST LABEL PID: kills the backend with SIGKILL and waits
# (bounded) until the postmaster has reinitialized and accepts connections
# again; TEST and LABEL name the checks.
t_crash_kill() {
	local test=$1 label=$2 pid=$3 log=$PYPELINE_TMP/postgres.log offset postmaster killed_at deadline new_log
	offset=$(stat -c %s "$log")
	postmaster=$(head -1 "$PYPELINE_TMP/pg/postmaster.pid")
	kill -9 "$pid"
	killed_at=$(t_now_ms)
	deadline=$((killed_at + 60000))
	while :; do
		new_log=$(tail -c +$((offset + 1)) "$log")
		if printf '%s\n' "$new_log" | grep -q "database system is ready to accept connections" && t_pg_up; then
			break
		fi
		if [ "$(t_now_ms)" -ge "$deadline" ]; then
			t_not_ok "$test: $label: the server accepts connections within 60 s of the kill"
			printf '%s\n' "$new_log" | tail -20 | t_diag
			return 1
		fi
		sleep 0.1
	done
	t_ok "$test: $label: the server accepts connections again ($(($(t_now_ms) - killed_at)) ms after the kill)"
	t_like "$new_log" "\\(PID $pid\\) was terminated by signal 9" \
		"$test: $label: the postmaster saw the process killed"
	t_like "$new_log" "all server processes terminated; reinitializing" \
		"$test: $label: and reinitialized (crash recovery)"
	t_is "$(head -1 "$PYPELINE_TMP/pg/postmaster.pid")" "$postmaster" \
		"$test: $label: the same postmaster runs"
}
