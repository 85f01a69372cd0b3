#!/usr/bin/env bash
# Change data capture (capture => 'binlog'): what a pull of the binary log costs
# next to the snapshot rerun it replaces, and how far behind MySQL a continuous
# capture stays under a steady stream of changes.  doc/performance.md,
# "Change data capture".
#
#   bash contrib/bench/capture.sh                      # after make install
#   CAP_ROWS=200000 CAP_SECONDS=10 bash contrib/bench/capture.sh   # quick
#
# Environment:
#   CAP_ROWS     source rows (default 2000000)
#   CAP_REPEAT   pull/rerun pairs; the best of each is reported (default 3)
#   CAP_SECONDS  length of each steady-rate stream (default 20)
#   CAP_RATES    changed rows per second of the streams (default "1000 10000")
#   CAP_EVERY    the continuous capture's interval (default 100 milliseconds)
#
# Two type 2 dimensions over one MariaDB table: cap_snap reads it whole on
# every run (the snapshot rerun), cap_log is captured.  Each repetition
# changes 1% of the rows, then runs both (alternating which goes first);
# times are taken inside the psql session.  Their current rows must be
# equal after every repetition (MISMATCH otherwise).
#
# Latency: MariaDB changes CAP_RATE rows a second, in a statement every
# 10 ms, each row stamped with the statement's UNIX_TIMESTAMP(NOW(6)), while
# pypeline.start_capture follows the log.  A sampler in PostgreSQL reads every
# 20 ms the newest stamp visible in the dimension; now minus that stamp is
# how stale the warehouse is (commit to visible, plus at most the 10 ms
# between two changes).  Both servers run on this machine: one clock.
#
# Standalone it starts its own servers; with BENCH_SERVERS_UP=1 (run.sh) it
# reuses them.  It works in a PostgreSQL database of its own, bench_capture.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. regress/servers.sh
. contrib/bench/lib.sh

ROWS=${CAP_ROWS:-2000000}
REPEAT=${CAP_REPEAT:-3}
SECONDS_EACH=${CAP_SECONDS:-20}
RATES=${CAP_RATES:-"1000 10000"}
EVERY=${CAP_EVERY:-100 milliseconds}
for v in ROWS REPEAT SECONDS_EACH; do
	case ${!v} in '' | *[!0-9]*) echo "$v must be a positive integer, not \"${!v}\"" >&2; exit 2 ;; esac
	[ "${!v}" -gt 0 ] || { echo "$v must be positive" >&2; exit 2; }
done
[ "$ROWS" -ge 10000 ] || { echo "CAP_ROWS must be at least 10000" >&2; exit 2; }

if [ -z "${BENCH_SERVERS_UP:-}" ]; then
	echo "== starting throwaway MariaDB and PostgreSQL 15"
	servers_start bench_capture || exit 1
	bench_setup_mariadb || exit 1
	bench_psql -d postgres -c "ALTER SYSTEM SET autovacuum = off" -c "SELECT pg_reload_conf()" >/dev/null || exit 1
fi
mysql_root -e "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO $BENCH_MYSQL_USER@'%'" || exit 1
export PGDATABASE=bench_capture
bench_psql -d postgres -c "DROP DATABASE IF EXISTS bench_capture" -c "CREATE DATABASE bench_capture" || exit 1
bench_setup_pypeline || exit 1

echo "== generating cap_users, $ROWS rows"
mysql_root "$BENCH_MYSQL_DB" <<SQL || exit 1
DROP TABLE IF EXISTS cap_users;
CREATE TABLE cap_users (
	id INT PRIMARY KEY,
	name VARCHAR(60) NOT NULL,
	city VARCHAR(30),
	score INT NOT NULL,
	balance DECIMAL(12,2),
	born DATE,
	stamp DECIMAL(17,6)
) ENGINE=InnoDB;
INSERT INTO cap_users SELECT seq, CONCAT('user ', seq), ELT(1 + seq % 4, 'Lyon', 'Metz', 'Caen', NULL),
	seq % 1000, (seq * 7919 % 10000000) / 100, DATE'1950-01-01' + INTERVAL (seq % 20000) DAY, NULL
FROM seq_1_to_$ROWS;
SQL

COLUMNS="id, name, city, score, balance, born, stamp"
bench_psql >/dev/null <<SQL || exit 1
SELECT pypeline.define_dimension('cap_snap', 'bench', 'SELECT $COLUMNS FROM cap_users', 'cap_snap_dim',
	natural_key => '{id}', scd_type => 2);
SELECT pypeline.define_dimension('cap_log', 'bench', 'SELECT $COLUMNS FROM cap_users', 'cap_log_dim',
	natural_key => '{id}', scd_type => 2, capture => 'binlog');
SQL
# seconds of one run of an ETL, inside the session
timed_run() {
	bench_psql <<-SQL
		SELECT clock_timestamp() AS t0 \gset
		SELECT rows FROM pypeline.process_etl('$1', 'dimension') \gset
		SELECT round(extract(epoch FROM clock_timestamp() - :'t0')::numeric, 3);
	SQL
}
echo "== first loads (the captured one is its snapshot)"
for etl in cap_snap cap_log; do
	echo "   $etl: $(timed_run "$etl") s"
done
bench_psql -c "CREATE INDEX ON cap_log_dim (stamp)" || exit 1

best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }

current_rows() {
	bench_psql -c "SELECT count(*) || ' ' || md5(string_agg(md5(ROW($COLUMNS)::text), '' ORDER BY id))
		FROM $1 WHERE is_current AND id IS NOT NULL"
}

echo "== $REPEAT x: change 1% of the rows, then the snapshot rerun and the pull"
best_snap= best_pull=
for i in $(seq 1 "$REPEAT"); do
	mysql_root "$BENCH_MYSQL_DB" -e "UPDATE cap_users SET score = score + 1, city = CONCAT('c', $i) WHERE id % 100 = $i" || exit 1
	bench_psql -c "CHECKPOINT" >/dev/null
	if [ $((i % 2)) -eq 1 ]; then
		snap=$(timed_run cap_snap) && pull=$(timed_run cap_log)
	else
		pull=$(timed_run cap_log) && snap=$(timed_run cap_snap)
	fi || { mismatch "a run failed"; break; }
	echo "   run $i: snapshot rerun $snap s, pull $pull s"
	best_snap=$(best "$best_snap" "$snap")
	best_pull=$(best "$best_pull" "$pull")
	a=$(current_rows cap_snap_dim)
	b=$(current_rows cap_log_dim)
	[ "$a" = "$b" ] || mismatch "after run $i the captured dimension's current rows ($b) differ from the snapshot's ($a)"
done
pull_ratio=$(awk -v p="$best_pull" -v s="$best_snap" 'BEGIN { printf "%.3f", p / s }')
echo "BENCH scenario=capture_snapshot_rerun_1pct rows=$ROWS seconds=$best_snap"
echo "BENCH scenario=capture_pull_1pct rows=$ROWS seconds=$best_pull ratio_to_snapshot_rerun=$pull_ratio"

# Stream RATE changed rows a second for SECONDS_EACH seconds; prints p50 and p99 staleness.
stream() {
	local rate=$1 batch=$(($1 / 100)) task
	[ "$batch" -ge 1 ] || batch=1
	task=$(bench_psql -c "SELECT pypeline.start_capture('cap_log', every => '$EVERY')") || return 1
	# the worker starts and catches up before the stream
	sleep 2
	mysql_root "$BENCH_MYSQL_DB" >/dev/null <<-SQL &
		DELIMITER //
		BEGIN NOT ATOMIC
			DECLARE k INT DEFAULT 0;
			DECLARE t0 DOUBLE DEFAULT UNIX_TIMESTAMP(NOW(6));
			WHILE UNIX_TIMESTAMP(NOW(6)) - t0 < $SECONDS_EACH DO
				UPDATE cap_users SET score = score + 1, stamp = UNIX_TIMESTAMP(NOW(6))
				WHERE id BETWEEN (k * $batch) % ($ROWS - $batch) + 1 AND (k * $batch) % ($ROWS - $batch) + $batch;
				SET k = k + 1;
				DO SLEEP(GREATEST(0, t0 + k * 0.01 - UNIX_TIMESTAMP(NOW(6))));
			END WHILE;
		END //
	SQL
	local driver=$!
	bench_psql <<-SQL
		CREATE TEMPORARY TABLE staleness (seconds float8);
		DO \$\$
		DECLARE
			t_end timestamptz := clock_timestamp() + interval '$SECONDS_EACH seconds';
		BEGIN
			PERFORM pg_sleep(1);
			WHILE clock_timestamp() < t_end LOOP
				INSERT INTO staleness
				SELECT extract(epoch FROM clock_timestamp()) - max(stamp)::float8 FROM cap_log_dim;
				PERFORM pg_sleep(0.02);
			END LOOP;
		END \$\$;
		SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds)::numeric, 3) || ' ' ||
		       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY seconds)::numeric, 3) || ' ' || count(*)
		FROM staleness;
	SQL
	wait "$driver"
	bench_psql -c "SELECT pypeline.stop_capture('cap_log')" -c "SELECT pypeline.wait($task, '5 minutes')" >/dev/null
	echo "$task"
}

P99_AT_10000=
for rate in $RATES; do
	echo "== $rate changed rows/s for $SECONDS_EACH s, capture every $EVERY"
	read -r p50 p99 samples task <<<"$(stream "$rate" | tr '\n' ' ')"
	echo "   staleness p50 ${p50:-?} s, p99 ${p99:-?} s (${samples:-no} samples)"
	error=$(bench_psql -c "SELECT t.result ->> 'last_error' FROM pypeline.task t WHERE t.id = ${task:-0} AND t.result ? 'last_error_at' AND t.result ->> 'last_error_at' IS NOT NULL")
	[ -z "$error" ] || mismatch "the capture at $rate rows/s had an error: $error"
	echo "BENCH scenario=capture_latency rate=$rate p50_seconds=${p50:-n/a} p99_seconds=${p99:-n/a}"
	[ "$rate" = 10000 ] && P99_AT_10000=$p99
done
# the capture stopped where it was: one more pull catches up
bench_psql -c "SELECT pypeline.process_etl('cap_snap', 'dimension')" -c "SELECT pypeline.process_etl('cap_log', 'dimension')" >/dev/null
[ "$(current_rows cap_snap_dim)" = "$(current_rows cap_log_dim)" ] ||
	mismatch "after the streams the captured dimension's current rows differ from a snapshot's"

verdict() { awk -v v="$1" -v g="$3" -v c="$2" 'BEGIN { if (v == "") print "NOT MEASURED"; else if ((c == "<=" && v <= g) || (c == "<" && v < g)) print "MET"; else print "NOT MET" }'; }
echo "TARGET capture_pull_vs_snapshot_rerun value=$pull_ratio goal<=0.1 $(verdict "$pull_ratio" "<=" 0.1)  (a pull after 1% of $ROWS rows changed, as a ratio to the snapshot rerun)"
echo "TARGET capture_p99_latency_10000 value=${P99_AT_10000:-n/a} goal<2 $(verdict "$P99_AT_10000" "<" 2)  (p99 seconds from MySQL commit to visible at 10,000 changed rows/s)"
exit $FAILED
