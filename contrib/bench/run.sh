#!/usr/bin/env bash
# make bench: pypeline against the other ways of moving MySQL/MariaDB rows into
# PostgreSQL, in one run, on the same generated data (doc/performance.md).
#
#   1  pipe        mariadb --quick -B -N | psql -c "COPY ... FROM STDIN"  (the practical limit)
#   2  mysql_fdw   INSERT INTO ... SELECT FROM a mysql_fdw foreign table
#   3  pgloader    LOAD DATABASE from mysql:// into postgresql:// (unix socket)
#   4  pypeline    full load of a type 2 dimension (process_etl, delete_existing_table)
#   5  pypeline    type 2 rerun after 1% of the source rows changed, and one with
#                  nothing changed (5b); a type 1 dimension's full load and its rerun
#                  after 1% changed (5c)
#   6  pypeline    fact load with 3 dimension lookups (one type 2, as of the event time)
#      (+ the pipe of the fact source, as a reference for 6)
#   6b pypeline    accumulating fact (key_columns): full load, then a rerun after 1% of
#                  the fact source rows changed, as a ratio to the full load
#   6c pypeline    the fact of 6 read as two ranges of events.id by split readers
#                  (split_column), against the same definition read serially
#   7  peak backend RSS growth of 4, and of pypeline.query over 20M rows (rss.sh)
#   8  an incremental refresh of independent dimensions, sequential vs parallel (parallel.sh)
#   9  a captured dimension (capture => 'binlog'): a pull after 1% changed against the
#      snapshot rerun, and commit-to-visible latency of a continuous capture (capture.sh)
#
# Environment:
#   BENCH_ROWS       dimension source rows (default 2000000)
#   BENCH_FACT_ROWS  fact source rows (default 5000000)
#   BENCH_REPEAT     runs of each timed scenario; the best is reported (default 1)
#   BENCH_RSS_ROWS   row counts for rss.sh (default "5000000 20000000")
#   BENCH_PERF       a directory: `perf record -g` follows the backend during the
#                    last run of 4, 5 and 6, and `perf report` summaries go there
#
# Times: the pipe, mysql_fdw and pgloader are timed around the client
# commands (wall clock); pypeline's statements inside their session
# (clock_timestamp() before and after), so connecting is not counted.
#
# Loads 1-4 must give the same table: row count and a checksum (md5 over the
# rows' text form, ordered by id) are compared, and any difference prints
# MISMATCH and makes the run exit non-zero.  A peer tool that cannot run here
# is reported as SKIPPED with the reason; that does not fail the run.
set -uo pipefail
cd "$(dirname "$0")/../.."
. regress/servers.sh
. contrib/bench/lib.sh

ROWS=${BENCH_ROWS:-2000000}
FACT_ROWS=${BENCH_FACT_ROWS:-5000000}
REPEAT=${BENCH_REPEAT:-1}
PERF_DIR=${BENCH_PERF:-}
for v in ROWS FACT_ROWS REPEAT; do
	case ${!v} in '' | *[!0-9]*) echo "BENCH_$v must be a positive integer, not \"${!v}\"" >&2; exit 2 ;; esac
	[ "${!v}" -gt 0 ] || { echo "BENCH_$v must be positive" >&2; exit 2; }
done
[ "$ROWS" -ge 100 ] || { echo "BENCH_ROWS must be at least 100 (1% of it changes)" >&2; exit 2; }
CHANGED=$((ROWS / 100))		# users with id % 100 = 0


# ---------------------------------------------------------------------------
# Peer tools: Debian packages, installed when root and missing.
# ---------------------------------------------------------------------------
declare -A SKIP=()
install_peers() {
	local missing=() p wanted=(postgresql-15-mysql-fdw pgloader)
	[ -n "$PERF_DIR" ] && wanted+=(linux-perf)
	for p in "${wanted[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "not root: cannot install ${missing[*]}; those peers will be skipped"
		return 0
	fi
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || echo "apt-get update failed"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		echo "could not install ${missing[*]}; missing peers will be skipped"
}
install_peers
command -v pgloader >/dev/null || SKIP[pgloader]="pgloader is not installed (Debian package pgloader)"
[ -e /usr/lib/postgresql/15/lib/mysql_fdw.so ] ||
	SKIP[mysql_fdw]="mysql_fdw is not installed (Debian package postgresql-15-mysql-fdw)"

# ---------------------------------------------------------------------------
# Servers and data
# ---------------------------------------------------------------------------
echo "== starting throwaway MariaDB and PostgreSQL 15"
servers_start bench || exit 1
createdb bench || exit 1
bench_setup_mariadb || exit 1
bench_setup_pypeline || exit 1
export BENCH_SERVERS_UP=1
# No autovacuum: a background VACUUM or ANALYZE of a freshly loaded table
# would take one of the two cores from whatever is being timed, and change the
# fact load's plan depending on when it happened to run.  Statistics are
# gathered explicitly where the output says so.
bench_psql -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null || exit 1

echo "== generating the source in MariaDB: users $ROWS rows, events $FACT_ROWS rows"
bench_t0
sed -e "s/@ROWS@/$ROWS/g; s/@FACT_ROWS@/$FACT_ROWS/g" contrib/bench/source.sql | mysql_root || exit 1
mysql_root -e "ANALYZE TABLE bench.users, bench.b, bench.events" >/dev/null
bench_t1
echo "generated in $ELAPSED s"

# The same columns, in the types pypeline maps them to (DESIGN section 3).
USER_COLUMNS="id, email, name, note, state, is_active, balance, score, visits, signup_at, birth_date, updated_at"
USER_TABLE="(id bigint, email text, name text, note text, state text, is_active boolean,
	balance numeric(12,2), score integer, visits integer, signup_at timestamp,
	birth_date date, updated_at timestamp)"
# What the checksum covers: every column a type 2 dimension keeps (the
# change date becomes valid_from and is checked separately).
CHECK_COLUMNS="id, email, name, note, state, is_active, balance, score, visits, signup_at, birth_date"

checksum() {
	bench_psql -c "SELECT count(*) || ' ' || coalesce(md5(string_agg(md5(ROW($CHECK_COLUMNS)::text), '' ORDER BY id)), '-')
		FROM $1"
}

bench_psql >/dev/null <<SQL || exit 1
SET client_min_messages = warning;
CREATE SCHEMA pgl;		-- pgloader's target schema
SELECT pypeline.define_dimension('bench_user', 'bench',
	'SELECT $USER_COLUMNS FROM users', 'bench_user_dim',
	natural_key => '{id}', scd_type => 2, change_date_column => 'updated_at');
SELECT pypeline.define_dimension('bench_user_t1', 'bench',
	'SELECT $USER_COLUMNS FROM users', 'bench_user_t1_dim', natural_key => '{id}');
SELECT pypeline.define_dimension('bench_b', 'bench',
	'SELECT id AS b_id, label, region FROM b', 'bench_b_dim', natural_key => '{b_id}');
SELECT pypeline.define_date_dimension('bench_date', 'bench_date_dim', '2018-01-01', '2022-12-31');
SELECT pypeline.define_fact('bench_event', 'bench',
	'SELECT user_id, b_id, amount, created_at FROM events', 'bench_event_fact',
	lookups => '{"bench_user": "user_id", "bench_b": "b_id", "bench_date": "created_at"}',
	measures => '{amount}', event_time_column => 'created_at');
SELECT pypeline.define_fact('bench_event_acc', 'bench',
	'SELECT id, user_id, b_id, amount, created_at FROM events', 'bench_event_acc_fact',
	lookups => '{"bench_user": "user_id", "bench_b": "b_id", "bench_date": "created_at"}',
	measures => '{amount}', event_time_column => 'created_at', key_columns => '{id}');
SELECT pypeline.define_fact('bench_event_split', 'bench',
	'SELECT id, user_id, b_id, amount, created_at FROM events', 'bench_event_split_fact',
	lookups => '{"bench_user": "user_id", "bench_b": "b_id", "bench_date": "created_at"}',
	measures => '{amount}', event_time_column => 'created_at', split_column => 'id');
SQL

if [ -z "${SKIP[mysql_fdw]:-}" ]; then
	# character_set: without it mysql_fdw reads utf8mb4 text as latin1 and
	# stores mojibake (the checksum catches it).
	if ! err=$(bench_psql 2>&1 <<-SQL
		SET client_min_messages = warning;
		CREATE EXTENSION mysql_fdw;
		CREATE SERVER bench_mysql_fdw FOREIGN DATA WRAPPER mysql_fdw
			OPTIONS (host '127.0.0.1', port '$MYSQL_PORT', character_set 'utf8mb4', fetch_size '10000');
		CREATE USER MAPPING FOR CURRENT_USER SERVER bench_mysql_fdw
			OPTIONS (username '$BENCH_MYSQL_USER', password '$BENCH_MYSQL_PASSWORD');
		CREATE FOREIGN TABLE fdw_source_users $USER_TABLE
			SERVER bench_mysql_fdw OPTIONS (dbname '$BENCH_MYSQL_DB', table_name 'users');
	SQL
	); then
		SKIP[mysql_fdw]="mysql_fdw does not work here: $(tr '\n' ' ' <<<"$err")"
	fi
fi

# ---------------------------------------------------------------------------
# Scenarios.  Each run_* function loads once and sets ELAPSED; measure()
# repeats it and keeps the best time.
# ---------------------------------------------------------------------------
declare -A SECONDS_OF=() ROWS_OF=() RSS_OF=()
ORDER=()

# measure NAME ROWS FUNCTION: best of REPEAT runs into SECONDS_OF[NAME]
measure() {
	local name=$1 rows=$2 fn=$3 r best=
	CURRENT_SCENARIO=$name
	ORDER+=("$name")
	ROWS_OF[$name]=$rows
	if [ -n "${SKIP[$name]:-}" ]; then
		echo "-- $name: SKIPPED: ${SKIP[$name]}"
		return 0
	fi
	for r in $(seq 1 "$REPEAT"); do
		bench_psql -c "CHECKPOINT" >/dev/null
		LAST_RUN=$([ "$r" -eq "$REPEAT" ] && echo 1 || echo 0)
		if ! "$fn" "$r"; then
			SKIP[$name]=${SKIP[$name]:-"failed (see above)"}
			echo "-- $name: FAILED: ${SKIP[$name]}"
			# A peer that does not work here is reported; pypeline or the
			# pipe failing fails the run.
			case $name in
				mysql_fdw | pgloader) ;;
				*) mismatch "$name failed: ${SKIP[$name]}" ;;
			esac
			return 1
		fi
		echo "-- $name run $r: $ELAPSED s"
		if [ -z "$best" ] || awk -v a="$ELAPSED" -v b="$best" 'BEGIN { exit !(a < b) }'; then
			best=$ELAPSED
		fi
	done
	SECONDS_OF[$name]=$best
}

# Runs a statement in one session: bench_memory() before and after it, its
# time measured in the session (clock_timestamp(), so connecting is not
# counted), the backend's RssAnon sampled meanwhile; perf follows the backend
# during the last run when BENCH_PERF is set.  Sets ELAPSED, SESSION_RESULT
# (the statement's output), SESSION_BEFORE / SESSION_AFTER ("peak_kb anon_kb
# shmem_kb") and SESSION_ANON_PEAK (kB).
timed_session() {
	local label=$CURRENT_SCENARIO statement=$1 perf_pre= perf_post= out=$PYPELINE_TMP/session.out
	export BENCH_ANON_OUT=$PYPELINE_TMP/anon.max BENCH_ANON_STOP=$PYPELINE_TMP/anon.stop
	rm -f "$BENCH_ANON_STOP"
	if [ -n "$PERF_DIR" ] && [ "$LAST_RUN" = 1 ] && command -v perf >/dev/null; then
		mkdir -p "$PERF_DIR"
		export BENCH_PERF_FILE=$PERF_DIR/$label.data
		perf_pre="\\! perf record -F 999 -g -p \"\$BENCH_BACKEND_PID\" -o \"\$BENCH_PERF_FILE\" >\"\$BENCH_PERF_FILE.log\" 2>&1 & echo \$! >\"\$BENCH_PERF_FILE.pid\"; sleep 1"
		perf_post="\\! kill -INT \"\$(cat \"\$BENCH_PERF_FILE.pid\")\"; while kill -0 \"\$(cat \"\$BENCH_PERF_FILE.pid\")\" 2>/dev/null; do sleep 0.2; done"
	fi
	bench_psql -F ' ' >"$out" 2>&1 <<-SQL
		SELECT pg_backend_pid() AS pid \gset
		\setenv BENCH_BACKEND_PID :pid
		\! bash -c '. contrib/bench/lib.sh; bench_anon_sampler "\$BENCH_BACKEND_PID" "\$BENCH_ANON_OUT" "\$BENCH_ANON_STOP"' </dev/null >/dev/null 2>&1 &
		$perf_pre
		SELECT * FROM bench_memory();
		SELECT extract(epoch FROM clock_timestamp()) AS bench_t0 \gset
		$statement
		SELECT round((extract(epoch FROM clock_timestamp()) - :bench_t0)::numeric, 3);
		\! touch "\$BENCH_ANON_STOP"; sleep 0.1
		$perf_post
		SELECT * FROM bench_memory();
	SQL
	local rc=$?
	touch "$BENCH_ANON_STOP"
	if [ $rc -ne 0 ]; then
		cat "$out"
		return $rc
	fi
	SESSION_BEFORE=$(sed -n 1p "$out")
	SESSION_RESULT=$(sed -n 2p "$out")
	ELAPSED=$(sed -n 3p "$out")
	SESSION_AFTER=$(sed -n 4p "$out")
	SESSION_ANON_PEAK=$(cat "$BENCH_ANON_OUT" 2>/dev/null || echo 0)
	if [ -n "$perf_pre" ]; then
		perf report --stdio --no-children -i "$BENCH_PERF_FILE" 2>/dev/null | grep -v '^$' | head -100 >"$PERF_DIR/$label.report.txt"
		perf report --stdio --no-children --sort dso -g none -i "$BENCH_PERF_FILE" 2>/dev/null | grep -v '^#' | grep -v '^$' | head -20 >"$PERF_DIR/$label.dso.txt"
		perf report --stdio --children --sort dso,symbol -g none -i "$BENCH_PERF_FILE" 2>/dev/null | grep -v '^#' | grep -v '^$' | grep -v ' 0x0000' | head -80 >"$PERF_DIR/$label.children.txt"
		echo "   perf: $PERF_DIR/$label.{report,dso,children}.txt"
	fi
}

run_pipe() {
	bench_psql -c "DROP TABLE IF EXISTS pipe_users; CREATE TABLE pipe_users $USER_TABLE" || return 1
	bench_t0
	# mariadb -B escapes tab, newline, backslash and NUL the way COPY's text
	# format expects, and prints SQL NULL as NULL.
	mariadb_etl --quick -B -N -e "SELECT $USER_COLUMNS FROM users" |
		bench_psql -c "COPY pipe_users FROM STDIN (FORMAT text, NULL 'NULL')" || return 1
	bench_t1
}

run_fdw() {
	bench_psql -c "DROP TABLE IF EXISTS fdw_users; CREATE TABLE fdw_users $USER_TABLE" || return 1
	bench_t0
	bench_psql -c "INSERT INTO fdw_users SELECT * FROM fdw_source_users" || return 1
	bench_t1
}

run_pgloader() {
	local dir=$PYPELINE_TMP/pgloader
	mkdir -p "$dir"
	bench_psql -c "DROP TABLE IF EXISTS pgl.users; CREATE TABLE pgl.users $USER_TABLE" || return 1
	# data only: into the table made above, in pypeline's types (the casts
	# only keep pgloader from warning that its own defaults differ).
	cat >"$dir/users.load" <<-LOAD
		LOAD DATABASE
		  FROM mysql://$BENCH_MYSQL_USER:$BENCH_MYSQL_PASSWORD@127.0.0.1:$MYSQL_PORT/$BENCH_MYSQL_DB
		  INTO postgresql://$PGUSER@unix:$PGHOST:$PGPORT/bench
		  WITH data only, truncate, workers = 4, concurrency = 1
		  CAST type varchar to text drop typemod,
		       type char to text drop typemod,
		       type int when signed to integer drop typemod,
		       type datetime to timestamp drop default drop not null using zero-dates-to-null
		  INCLUDING ONLY TABLE NAMES MATCHING 'users'
		  ALTER SCHEMA '$BENCH_MYSQL_DB' RENAME TO 'pgl';
	LOAD
	bench_t0
	pgloader --root-dir "$dir" "$dir/users.load" >"$dir/run.log" 2>&1
	local rc=$?
	bench_t1
	if [ $rc -ne 0 ] || grep -qE '(ERROR|FATAL)' "$dir/run.log"; then
		SKIP[pgloader]="pgloader failed (exit $rc): $(grep -E 'ERROR|FATAL' "$dir/run.log" | head -3 | tr '\n' ' ')"
		tail -20 "$dir/run.log"
		return 1
	fi
}

# One session per run: baseline VmHWM, the load, VmHWM again.
run_pypeline_full() {
	local base peak shmem growth
	bench_psql -c "DROP TABLE IF EXISTS bench_event_fact" || return 1	# the rebuild guard
	timed_session \
		"SELECT rows FROM pypeline.process_etl('bench_user', 'dimension', delete_existing_table => true);" || return 1
	read -r base _ _ <<<"$SESSION_BEFORE"
	read -r peak _ shmem <<<"$SESSION_AFTER"
	growth=$((peak - base))
	echo "   rows $SESSION_RESULT, backend peak RSS growth $((growth / 1024)) MB (private memory peak $((SESSION_ANON_PEAK / 1024)) MB; shared buffers mapped at the end $((shmem / 1024)) MB)"
	if [ -z "${RSS_OF[pypeline_dimension_full]:-}" ] || [ "$growth" -gt "${RSS_OF[pypeline_dimension_full]}" ]; then
		RSS_OF[pypeline_dimension_full]=$growth
		RSS_SHMEM_FULL=$shmem
		RSS_ANON_FULL=$SESSION_ANON_PEAK
	fi
}

# Each run changes a tracked value and the change date of 1% of the users,
# then loads incrementally.
# rerun_after_change MYSQL_STATEMENT ETL KIND: changes the source, then reruns the ETL.
rerun_after_change() {
	mysql_root bench -e "$1" || return 1
	bench_psql -c "CHECKPOINT" >/dev/null
	timed_session "SELECT rows FROM pypeline.process_etl('$2', '$3');"
}

run_pypeline_rerun() {
	rerun_after_change "UPDATE users SET score = score + 1,
		updated_at = TIMESTAMP'2020-06-01 00:00:00' + INTERVAL $1 DAY WHERE id % 100 = 0" bench_user dimension
}

run_pypeline_rerun_unchanged() {
	timed_session "SELECT rows FROM pypeline.process_etl('bench_user', 'dimension');"
}

run_pypeline_t1_full() {
	timed_session "SELECT rows FROM pypeline.process_etl('bench_user_t1', 'dimension', delete_existing_table => true);"
}

# Each run changes an attribute of 1% of the users (not the change date the
# type 2 checks follow), then reruns the type 1 dimension.
run_pypeline_t1_rerun() {
	rerun_after_change "UPDATE users SET visits = visits + 1 WHERE id % 100 = 0" bench_user_t1 dimension
}

# The counts of an ETL's last run against "inserted|updated|unchanged".
check_last_run() {	# scenario, ETL, expected
	local got
	got=$(bench_psql -c "SELECT rows_inserted || '|' || rows_updated || '|' || rows_unchanged FROM pypeline.run_log
		WHERE etl_name = '$2' AND status = 'success' ORDER BY id DESC LIMIT 1")
	echo "$2 last run inserted|updated|unchanged: $got (expected $3)"
	CHECK_OF[$1]=ok
	if [ "$got" != "$3" ]; then
		mismatch "$1: inserted|updated|unchanged $got, expected $3"
		CHECK_OF[$1]=MISMATCH
	fi
}

run_pypeline_fact() {
	timed_session "SELECT rows FROM pypeline.process_etl('bench_event', 'fact', delete_existing_table => true);"
}

run_pypeline_acc_full() {
	timed_session "SELECT rows FROM pypeline.process_etl('bench_event_acc', 'fact', delete_existing_table => true);"
}

# Each run changes the amount of 1% of the events, then merges the whole source by key.
run_pypeline_acc_rerun() {
	rerun_after_change "UPDATE events SET amount = amount + 1 WHERE id % 100 = 0" bench_event_acc fact
}

# 6c: the same definition, its source read by $1 readers (1: serially)
run_pypeline_fact_split() {
	timed_session "SET pypeline.max_parallel_etls = $SPLIT_READERS;
		SELECT rows FROM pypeline.process_etl('bench_event_split', 'fact', delete_existing_table => true);"
}

run_pipe_fact() {
	bench_psql -c "DROP TABLE IF EXISTS pipe_events;
		CREATE TABLE pipe_events (user_id bigint, b_id bigint, amount numeric(10,2), created_at timestamp)" || return 1
	bench_t0
	mariadb_etl --quick -B -N -e "SELECT user_id, b_id, amount, created_at FROM events" |
		bench_psql -c "COPY pipe_events FROM STDIN (FORMAT text, NULL 'NULL')" || return 1
	bench_t1
}

echo
echo "== 1-4: the users table ($ROWS rows) four ways"
measure pipe "$ROWS" run_pipe
measure mysql_fdw "$ROWS" run_fdw
measure pgloader "$ROWS" run_pgloader
measure pypeline_dimension_full "$ROWS" run_pypeline_full

echo
echo "== checking that 1-4 loaded the same rows"
declare -A TABLE_OF=([pipe]=pipe_users [mysql_fdw]=fdw_users [pgloader]=pgl.users
	[pypeline_dimension_full]="bench_user_dim WHERE id IS NOT NULL")
declare -A CHECK_OF=()
reference=
for name in pipe mysql_fdw pgloader pypeline_dimension_full; do
	[ -z "${SKIP[$name]:-}" ] || continue
	sum=$(checksum "${TABLE_OF[$name]}")
	echo "$name: $sum"
	if [ "${sum%% *}" != "$ROWS" ]; then
		mismatch "$name loaded ${sum%% *} rows, expected $ROWS"
		CHECK_OF[$name]=MISMATCH
	elif [ -z "$reference" ]; then
		reference=$sum
		CHECK_OF[$name]=ok
	elif [ "$sum" != "$reference" ]; then
		mismatch "$name: checksum $sum differs from ${reference} (the first tool's)"
		CHECK_OF[$name]=MISMATCH
	else
		CHECK_OF[$name]=ok
	fi
done
# The dimension's first load: one current version per member, plus the unknown member.
extra=$(bench_psql -c "SELECT count(*) FILTER (WHERE NOT is_current OR version <> 1), count(*) FROM bench_user_dim")
if [ "$extra" != "0|$((ROWS + 1))" ]; then
	mismatch "bench_user_dim after the full load: $extra (non-current versions | rows), expected 0|$((ROWS + 1))"
	CHECK_OF[pypeline_dimension_full]=MISMATCH
fi

echo
echo "== 5: type 2 rerun after changing $CHANGED users (1%) per run"
measure pypeline_scd2_rerun_1pct "$ROWS" run_pypeline_rerun
if [ -z "${SKIP[pypeline_scd2_rerun_1pct]:-}" ]; then
	# Reload the changed source through the pipe and compare the current versions.
	run_pipe >/dev/null || mismatch "could not reload the source for the rerun check"
	want=$(checksum pipe_users)
	got=$(checksum "bench_user_dim WHERE is_current AND id IS NOT NULL")
	counts=$(bench_psql -c "SELECT count(*), count(*) FILTER (WHERE NOT is_current),
		count(*) FILTER (WHERE d.is_current AND d.version > 1 AND d.valid_from <> p.updated_at AT TIME ZONE 'UTC')
		FROM bench_user_dim d LEFT JOIN pipe_users p USING (id)")
	expected="$((ROWS + 1 + CHANGED * REPEAT))|$((CHANGED * REPEAT))|0"
	echo "current versions: $got (source: $want); versions|closed|wrong valid_from: $counts (expected $expected)"
	CHECK_OF[pypeline_scd2_rerun_1pct]=ok
	if [ "$got" != "$want" ] || [ "$counts" != "$expected" ]; then
		mismatch "type 2 rerun: current versions $got vs source $want; versions|closed|wrong valid_from $counts, expected $expected"
		CHECK_OF[pypeline_scd2_rerun_1pct]=MISMATCH
	fi
fi

measure pypeline_scd2_rerun_0pct "$ROWS" run_pypeline_rerun_unchanged
[ -z "${SKIP[pypeline_scd2_rerun_0pct]:-}" ] && check_last_run pypeline_scd2_rerun_0pct bench_user "0|0|$ROWS"

echo
echo "== 5c: type 1 dimension over the same source: full load, then reruns after 1% changed"
measure pypeline_scd1_full "$ROWS" run_pypeline_t1_full
measure pypeline_scd1_rerun_1pct "$ROWS" run_pypeline_t1_rerun
if [ -z "${SKIP[pypeline_scd1_rerun_1pct]:-}" ]; then
	check_last_run pypeline_scd1_rerun_1pct bench_user_t1 "0|$CHANGED|$((ROWS - CHANGED))"
	run_pipe >/dev/null || mismatch "could not reload the source for the type 1 check"
	want=$(checksum pipe_users)
	got=$(checksum "bench_user_t1_dim WHERE id IS NOT NULL")
	echo "type 1 rows: $got (source: $want)"
	CHECK_OF[pypeline_scd1_full]=ok
	[ "$got" = "$want" ] || { mismatch "type 1 rerun: $got vs source $want"; CHECK_OF[pypeline_scd1_rerun_1pct]=MISMATCH; }
fi

echo
echo "== 6: fact load, $FACT_ROWS rows, lookups into bench_user (type 2, as of created_at), bench_b, bench_date"
bench_psql >/dev/null <<SQL || mismatch "could not load the small dimensions"
SELECT * FROM pypeline.process_etl('bench_b', 'dimension', delete_existing_table => true);
SELECT * FROM pypeline.process_etl('bench_date', 'dimension', delete_existing_table => true);
SQL
check_facts() {	# scenario name
	local name=$1 version_expr=1 r want got
	[ -z "${SKIP[$name]:-}" ] || return 0
	# Every link is checked through sums of what the keys point at; the
	# version sum checks the as-of lookup (users with id % 100 = 0 got a new
	# version on 2020-06-01 + r days, r = 1..REPEAT).
	for r in $(seq 1 "$REPEAT"); do
		version_expr="$version_expr + IF(user_id % 100 = 0 AND created_at >= TIMESTAMP'2020-06-01 00:00:00' + INTERVAL $r DAY, 1, 0)"
	done
	want=$(mysql_root -N -B bench -e "SELECT COUNT(*), SUM(amount), SUM(user_id), SUM(b_id),
		SUM(DATEDIFF(created_at, '2000-01-01')), SUM($version_expr), 0 FROM events" | tr '\t' '|')
	got=$(bench_psql -c "SELECT count(*), sum(f.amount), sum(u.id), sum(b.b_id), sum(d.date - date '2000-01-01'),
		sum(u.version), count(*) FILTER (WHERE f.bench_user_key = -1 OR f.bench_b_key = -1 OR f.bench_date_key = -1)
		FROM bench_event_fact f JOIN bench_user_dim u USING (bench_user_key)
		JOIN bench_b_dim b USING (bench_b_key) JOIN bench_date_dim d USING (bench_date_key)")
	echo "$name (count|sum amount|sum user id|sum b id|sum days|sum user version|unknown keys):"
	echo "   loaded: $got"
	echo "   source: $want"
	# whether the lookups streamed (fact.c says why when they did not)
	echo "   run log: $(bench_psql -c "SELECT coalesce(message, 'lookups resolved while streaming') FROM pypeline.run_log
		WHERE etl_name = 'bench_event' ORDER BY id DESC LIMIT 1")"
	CHECK_OF[$name]=ok
	if [ "$got" != "$want" ]; then
		mismatch "$name: $got, source says $want"
		CHECK_OF[$name]=MISMATCH
	fi
}

# First as refresh_data_warehouse runs it: right after the dimension loads,
# whose new tables have no planner statistics yet; then after ANALYZE of the
# dimensions (what autovacuum or the ETL itself would provide).
measure pypeline_fact_fresh_dims "$FACT_ROWS" run_pypeline_fact
check_facts pypeline_fact_fresh_dims
bench_psql -c "ANALYZE bench_user_dim, bench_b_dim, bench_date_dim" || mismatch "could not analyze the dimensions"
measure pypeline_fact_3_lookups "$FACT_ROWS" run_pypeline_fact
check_facts pypeline_fact_3_lookups
measure pipe_fact_source "$FACT_ROWS" run_pipe_fact
if [ -z "${SKIP[pipe_fact_source]:-}" ]; then
	pf=$(bench_psql -c "SELECT count(*), sum(amount), sum(user_id) FROM pipe_events")
	want=$(mysql_root -N -B bench -e "SELECT COUNT(*), SUM(amount), SUM(user_id) FROM events" | tr '\t' '|')
	CHECK_OF[pipe_fact_source]=ok
	[ "$pf" = "$want" ] || { mismatch "pipe of the fact source: $pf, source says $want"; CHECK_OF[pipe_fact_source]=MISMATCH; }
fi

echo
echo "== 6b: accumulating fact, $FACT_ROWS rows by key, then 1% of them changed per run"
measure pypeline_acc_fact_full "$FACT_ROWS" run_pypeline_acc_full
measure pypeline_acc_fact_rerun_1pct "$FACT_ROWS" run_pypeline_acc_rerun
if [ -z "${SKIP[pypeline_acc_fact_rerun_1pct]:-}" ]; then
	want=$(mysql_root -N -B bench -e "SELECT COUNT(*), SUM(amount), SUM(id) FROM events" | tr '\t' '|')
	got=$(bench_psql -c "SELECT count(*), sum(amount), sum(id) FROM bench_event_acc_fact")
	echo "accumulating fact (count|sum amount|sum id): $got (source: $want)"
	CHECK_OF[pypeline_acc_fact_full]=ok
	check_last_run pypeline_acc_fact_rerun_1pct bench_event_acc "0|$((FACT_ROWS / 100))|$((FACT_ROWS - FACT_ROWS / 100))"
	if [ "$got" != "$want" ]; then
		mismatch "accumulating fact: $got vs source $want"
		CHECK_OF[pypeline_acc_fact_rerun_1pct]=MISMATCH
	fi
fi

echo
echo "== 6c: the fact of 6 read in ranges of events.id by 2 split readers, and serially"
# The serial read is checked against the source, the split read against the serial one.
SPLIT_SUMS="SELECT count(*), sum(amount), sum(bench_user_key), sum(bench_b_key), sum(bench_date_key)
	FROM bench_event_split_fact"
split_run_message() {
	bench_psql -c "SELECT coalesce(message, '') FROM pypeline.run_log
		WHERE etl_name = 'bench_event_split' ORDER BY id DESC LIMIT 1"
}
SPLIT_READERS=1 measure pypeline_fact_read_serially "$FACT_ROWS" run_pypeline_fact_split
if [ -z "${SKIP[pypeline_fact_read_serially]:-}" ]; then
	serial_sums=$(bench_psql -c "$SPLIT_SUMS")
	want=$(mysql_root -N -B bench -e "SELECT COUNT(*), SUM(amount) FROM events" | tr '\t' '|')
	echo "read serially (count|sum amount|sums of the keys): $serial_sums (source: $want)"
	CHECK_OF[pypeline_fact_read_serially]=ok
	if [ "$(cut -d'|' -f1-2 <<<"$serial_sums")" != "$want" ]; then
		mismatch "fact read serially: $serial_sums, source says $want"
		CHECK_OF[pypeline_fact_read_serially]=MISMATCH
	fi
fi
SPLIT_READERS=2 measure pypeline_fact_2_split_readers "$FACT_ROWS" run_pypeline_fact_split
if [ -z "${SKIP[pypeline_fact_2_split_readers]:-}" ]; then
	got=$(bench_psql -c "$SPLIT_SUMS")
	message=$(split_run_message)
	echo "2 split readers: $got (read serially: ${serial_sums:-}); run log: $message"
	CHECK_OF[pypeline_fact_2_split_readers]=ok
	if [ "$got" != "${serial_sums:-}" ] || [ "$message" != "read in 2 ranges of id by split readers" ]; then
		mismatch "fact read by 2 split readers: $got, serially: ${serial_sums:-}; run log: $message"
		CHECK_OF[pypeline_fact_2_split_readers]=MISMATCH
	fi
fi

echo
echo "== 7: backend peak RSS of pypeline.query (rss.sh)"
rss_out=$(bash contrib/bench/rss.sh)
rss_rc=$?
echo "$rss_out" | grep -v '^RSS \|^RERUN_RSS '
[ $rss_rc -eq 0 ] || mismatch "rss.sh: $(grep MISMATCH <<<"$rss_out")"
rss_line=$(grep '^RSS ' <<<"$rss_out" | tail -1)
RSS_QUERY_ROWS=$(sed -n 's/.*rows=\([0-9]*\).*/\1/p' <<<"$rss_line")
RSS_QUERY_GROWTH=$(sed -n 's/.*growth_kb=\([0-9]*\).*/\1/p' <<<"$rss_line")
RSS_QUERY_SECONDS=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$rss_line")
RERUN_ANON_KB=$(sed -n 's/^RERUN_RSS .*anon_peak_kb=\([0-9]*\).*/\1/p' <<<"$rss_out")
RERUN_RSS_ROWS=$(sed -n 's/^RERUN_RSS rows=\([0-9]*\).*/\1/p' <<<"$rss_out")

echo
echo "== 8: parallel refresh (parallel.sh)"
bash contrib/bench/parallel.sh || mismatch "parallel.sh: a run failed, differed or was not parallel (see above)"

echo
echo "== 9: change data capture (capture.sh)"
capture_out=$(CAP_ROWS=${CAP_ROWS:-$ROWS} bash contrib/bench/capture.sh)
capture_rc=$?
echo "$capture_out" | grep -v '^TARGET '
[ $capture_rc -eq 0 ] || mismatch "capture.sh: a run failed or the captured dimension differed (see above)"

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
pipe_rate=
[ -n "${SECONDS_OF[pipe]:-}" ] && pipe_rate=$(awk -v r="$ROWS" -v s="${SECONDS_OF[pipe]}" 'BEGIN { printf "%.0f", r / s }')
rate_of() {
	awk -v r="${ROWS_OF[$1]}" -v s="${SECONDS_OF[$1]}" 'BEGIN { printf "%.0f", r / s }'
}
ratio_of() {
	[ -n "$pipe_rate" ] || { echo "n/a"; return; }
	awk -v a="$(rate_of "$1")" -v b="$pipe_rate" 'BEGIN { printf "%.2f", a / b }'
}
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

echo
echo "== results: BENCH_ROWS=$ROWS BENCH_FACT_ROWS=$FACT_ROWS BENCH_REPEAT=$REPEAT (best of $REPEAT)"
echo "   $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo);" \
	"$(mysql_root -N -B -e 'SELECT VERSION()'); $(bench_psql -c 'SHOW server_version')"
printf '%-28s %10s %9s %11s %14s %10s  %s\n' scenario rows seconds rows/s "ratio to pipe" "RSS MB" check
for name in "${ORDER[@]}"; do
	if [ -n "${SKIP[$name]:-}" ]; then
		printf '%-28s %10s %9s %11s %14s %10s  %s\n' "$name" "${ROWS_OF[$name]}" - - - - "SKIPPED: ${SKIP[$name]}"
		continue
	fi
	rss=-
	[ -n "${RSS_OF[$name]:-}" ] && rss=$(mb "${RSS_OF[$name]}")
	printf '%-28s %10s %9s %11s %14s %10s  %s\n' "$name" "${ROWS_OF[$name]}" "${SECONDS_OF[$name]}" \
		"$(rate_of "$name")" "$(ratio_of "$name")" "$rss" "${CHECK_OF[$name]:-ok}"
done
if [ -n "$RSS_QUERY_GROWTH" ]; then
	printf '%-28s %10s %9s %11s %14s %10s  %s\n' pypeline_query_count "$RSS_QUERY_ROWS" "$RSS_QUERY_SECONDS" \
		"$(awk -v r="$RSS_QUERY_ROWS" -v s="$RSS_QUERY_SECONDS" 'BEGIN { printf "%.0f", r / s }')" - \
		"$(mb "$RSS_QUERY_GROWTH")" "(RSS only; 4 columns, not comparable with the pipe)"
fi
echo "RSS MB = growth of the backend's peak RSS (VmHWM) over its baseline in the same session."
[ -n "${RSS_SHMEM_FULL:-}" ] && echo "The full load's peak includes the shared buffers the backend touched ($(mb "$RSS_SHMEM_FULL") MB mapped at its end); its private memory (RssAnon, sampled every 50 ms) peaked at $(mb "$RSS_ANON_FULL") MB."

echo
for name in "${ORDER[@]}"; do
	[ -z "${SKIP[$name]:-}" ] || { echo "BENCH scenario=$name rows=${ROWS_OF[$name]} skipped=1"; continue; }
	line="BENCH scenario=$name rows=${ROWS_OF[$name]} seconds=${SECONDS_OF[$name]} rows_per_s=$(rate_of "$name") ratio_to_pipe=$(ratio_of "$name")"
	[ -n "${RSS_OF[$name]:-}" ] && line="$line rss_growth_kb=${RSS_OF[$name]}"
	echo "$line check=${CHECK_OF[$name]:-ok}"
done
[ -n "$RSS_QUERY_GROWTH" ] && echo "BENCH scenario=pypeline_query_rss rows=$RSS_QUERY_ROWS seconds=$RSS_QUERY_SECONDS rss_growth_kb=$RSS_QUERY_GROWTH"

# The targets of doc/performance.md.
echo
target() {	# name, value, comparison, goal, description
	if [ -z "$2" ]; then
		echo "TARGET $1 value=n/a goal$3$4 NOT MEASURED  ($5)"
	elif awk -v v="$2" -v g="$4" -v op="$3" 'BEGIN { exit !((op == ">=" && v >= g) || (op == "<=" && v <= g) || (op == "<" && v < g) || (op == ">" && v > g)) }'; then
		echo "TARGET $1 value=$2 goal$3$4 MET  ($5)"
	else
		echo "TARGET $1 value=$2 goal$3$4 NOT MET  ($5)"
	fi
}
full=${SECONDS_OF[pypeline_dimension_full]:-}
speedup() {	# how many times faster the full load is than scenario $1
	[ -n "$full" ] && [ -n "${SECONDS_OF[$1]:-}" ] && awk -v a="${SECONDS_OF[$1]}" -v b="$full" 'BEGIN { printf "%.2f", a / b }'
}
seconds_ratio() {	# time of scenario $1 / time of scenario $2
	[ -n "${SECONDS_OF[$1]:-}" ] && [ -n "${SECONDS_OF[$2]:-}" ] &&
		awk -v a="${SECONDS_OF[$1]}" -v b="${SECONDS_OF[$2]}" 'BEGIN { printf "%.2f", a / b }'
}
target full_vs_pipe "$([ -n "$full" ] && speedup pipe)" ">=" 1.3 "full dimension load speed / pipe speed"
target full_vs_mysql_fdw "$(speedup mysql_fdw)" ">=" 3.0 "full dimension load speed / mysql_fdw speed"
target full_vs_pgloader "$(speedup pgloader)" ">" 1.0 "full dimension load speed / pgloader speed"
target rerun_vs_full "$(seconds_ratio pypeline_scd2_rerun_1pct pypeline_dimension_full)" "<=" 0.6 \
	"type 2 rerun (1% changed) time / full load time"
target rerun_unchanged_vs_full "$(seconds_ratio pypeline_scd2_rerun_0pct pypeline_dimension_full)" "<=" 0.5 \
	"type 2 rerun (nothing changed) time / full load time"
target scd1_rerun_vs_full "$(seconds_ratio pypeline_scd1_rerun_1pct pypeline_scd1_full)" "<=" 0.5 \
	"type 1 rerun (1% changed) time / its full load time"
target fact_vs_fact_pipe "$(seconds_ratio pipe_fact_source pypeline_fact_3_lookups)" ">=" 0.7 \
	"fact load speed, 3 lookups, dimensions analyzed / the pipe of the same fact source"
target fact_fresh_dims_vs_fact_pipe "$(seconds_ratio pipe_fact_source pypeline_fact_fresh_dims)" ">=" 0.7 \
	"fact load speed right after the dimension loads / the pipe of the same fact source"
target split_read_speedup "$(seconds_ratio pypeline_fact_read_serially pypeline_fact_2_split_readers)" ">" 1.0 \
	"fact load read serially / read by 2 split readers (time), $(nproc) cores shared with MariaDB"
grep '^TARGET ' <<<"$capture_out"
target acc_rerun_vs_full "$(seconds_ratio pypeline_acc_fact_rerun_1pct pypeline_acc_fact_full)" "<=" 1.5 \
	"accumulating fact rerun (1% changed) time / its full load time"
target rerun_private_memory_mb "$([ -n "$RERUN_ANON_KB" ] && mb "$RERUN_ANON_KB")" "<" 64 \
	"private memory peak of a type 2 rerun over $RERUN_RSS_ROWS rows, 1% changed"
target query_rss_growth_mb "$([ -n "$RSS_QUERY_GROWTH" ] && mb "$RSS_QUERY_GROWTH")" "<" 64 \
	"peak RSS growth of pypeline.query over $RSS_QUERY_ROWS rows"

echo
if [ "$FAILED" -ne 0 ]; then
	echo "MISMATCH: some loads failed or did not produce the expected data (see above); the timings do not count."
	exit 1
fi
echo "all loads checked: same rows and checksums"
