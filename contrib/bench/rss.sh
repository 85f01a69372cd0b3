#!/usr/bin/env bash
# Peak memory of a backend streaming rows through pypeline.query, and of a
# type 2 dimension's rerun over the largest size.
#
#   bash contrib/bench/rss.sh            # 5,000,000 and 20,000,000 rows
#   BENCH_RSS_ROWS="1000000" bash contrib/bench/rss.sh
#
# For each size, one session reads its baseline VmHWM (peak resident set)
# from /proc/<pg_backend_pid()>/status, runs
#   SELECT count(*) FROM pypeline.query('bench', 'SELECT ... FROM seq_1_to_N') AS t(...)
# and reads VmHWM again.  It prints the peak, the growth over the baseline and
# PASS or FAIL against the bound (peak < 200 MB), and a machine-readable line
#   RSS rows=N seconds=S baseline_kb=B peak_kb=P growth_kb=G bound_kb=204800 result=PASS
# The rerun: a dimension over seq_1_to_N is loaded, its source changes 1% of
# the rows, and the rerun's private memory (RssAnon, sampled every 50 ms; the
# shared buffers it maps are not private) is printed as
#   RERUN_RSS rows=N updated=U anon_peak_kb=A bound_kb=65536 result=PASS
# It is a measurement, not a test: it exits 0 whatever the result (but says
# MISMATCH, and exits 1, if the count is wrong or the query fails).
#
# Standalone it starts its own throwaway MariaDB + PostgreSQL 15
# (regress/servers.sh) and needs pypeline installed (make install).  run.sh
# calls it with BENCH_SERVERS_UP=1 to reuse its servers and database.
set -uo pipefail
cd "$(dirname "$0")/../.."
. regress/servers.sh
. contrib/bench/lib.sh

RSS_SIZES=${BENCH_RSS_ROWS:-5000000 20000000}
BOUND_KB=$((200 * 1024))

if [ -z "${BENCH_SERVERS_UP:-}" ]; then
	servers_start bench || exit 1
	createdb bench || exit 1
	bench_setup_mariadb || exit 1
	bench_setup_pypeline || exit 1
fi

status=0
for n in $RSS_SIZES; do
	case $n in '' | *[!0-9]*) echo "BENCH_RSS_ROWS must be row counts, not \"$n\"" >&2; exit 2 ;; esac
	# Four columns of the usual kinds: integer, text, decimal, datetime.
	query="SELECT seq, CONCAT('user', seq, '@example.edu'), seq / 100, TIMESTAMP'2020-01-01 00:00:00' + INTERVAL seq SECOND FROM seq_1_to_$n"
	bench_t0
	out=$(bench_psql -F ' ' <<-SQL
		SELECT * FROM bench_memory();
		SELECT count(*) FROM pypeline.query('bench', \$q\$$query\$q\$)
			AS t(id bigint, email text, amount numeric(24,4), created_at timestamp);
		SELECT * FROM bench_memory();
	SQL
	)
	rc=$?
	bench_t1
	if [ $rc -ne 0 ]; then
		echo "MISMATCH: pypeline.query over $n rows failed:"
		echo "$out"
		status=1
		continue
	fi
	read -r base_kb _ _ <<<"$(sed -n 1p <<<"$out")"
	count=$(sed -n 2p <<<"$out")
	read -r peak_kb anon_kb shmem_kb <<<"$(sed -n 3p <<<"$out")"
	growth_kb=$((peak_kb - base_kb))
	if [ "$count" != "$n" ]; then
		echo "MISMATCH: pypeline.query returned $count rows, expected $n"
		status=1
	fi
	if [ "$peak_kb" -lt "$BOUND_KB" ]; then result=PASS; else result=FAIL; fi
	printf 'pypeline.query, %d rows in %s s: backend peak RSS %.1f MB (baseline %.1f MB, growth %.1f MB; now anon %.1f MB, shared %.1f MB): %s (bound: peak < 200 MB)\n' \
		"$n" "$ELAPSED" "$(awk -v k="$peak_kb" 'BEGIN { print k / 1024 }')" \
		"$(awk -v k="$base_kb" 'BEGIN { print k / 1024 }')" "$(awk -v k="$growth_kb" 'BEGIN { print k / 1024 }')" \
		"$(awk -v k="$anon_kb" 'BEGIN { print k / 1024 }')" "$(awk -v k="$shmem_kb" 'BEGIN { print k / 1024 }')" "$result"
	echo "RSS rows=$n seconds=$ELAPSED baseline_kb=$base_kb peak_kb=$peak_kb growth_kb=$growth_kb bound_kb=$BOUND_KB result=$result"
done

n=${RSS_SIZES##* }
rerun_source() {	# the score expression
	echo "SELECT CAST(seq AS SIGNED) AS id, CONCAT('user', seq) AS name, $1 AS score FROM seq_1_to_$n"
}
define_rerun_dimension() {
	bench_psql -c "SET client_min_messages = warning; SELECT pypeline.define_dimension('rss_dim', 'bench',
		\$q\$$(rerun_source "$1")\$q\$, 'rss_dim', natural_key => '{id}', scd_type => 2)" >/dev/null
}
anon_out=$PYPELINE_TMP/rerun_anon.max
anon_stop=$PYPELINE_TMP/rerun_anon.stop
rm -f "$anon_stop"
if define_rerun_dimension 'seq % 1000' &&
	bench_psql -c "SELECT rows FROM pypeline.process_etl('rss_dim', 'dimension', delete_existing_table => true)" >/dev/null &&
	define_rerun_dimension 'IF(seq % 100 = 0, seq % 1000 + 1, seq % 1000)' &&
	out=$(bench_psql <<-SQL
		SELECT pg_backend_pid() AS pid \gset
		\setenv BENCH_BACKEND_PID :pid
		\! bash -c '. contrib/bench/lib.sh; bench_anon_sampler "\$BENCH_BACKEND_PID" "$anon_out" "$anon_stop"' </dev/null >/dev/null 2>&1 &
		SELECT pg_sleep(0.2);
		SELECT rows FROM pypeline.process_etl('rss_dim', 'dimension');
		\! touch "$anon_stop"; sleep 0.1
		SELECT rows_updated FROM pypeline.run_log WHERE etl_name = 'rss_dim' AND status = 'success' ORDER BY id DESC LIMIT 1;
	SQL
	); then
	touch "$anon_stop"
	updated=$(tail -1 <<<"$out")
	anon_kb=$(cat "$anon_out" 2>/dev/null || echo 0)
	if [ "$updated" != "$((n / 100))" ]; then
		echo "MISMATCH: the rerun over $n rows updated $updated members, expected $((n / 100))"
		status=1
	fi
	if [ "$anon_kb" -lt 65536 ]; then result=PASS; else result=FAIL; fi
	printf 'type 2 rerun, %d rows, %s updated: private memory peak %.1f MB: %s (bound: < 64 MB)\n' \
		"$n" "$updated" "$(awk -v k="$anon_kb" 'BEGIN { print k / 1024 }')" "$result"
	echo "RERUN_RSS rows=$n updated=$updated anon_peak_kb=$anon_kb bound_kb=65536 result=$result"
else
	touch "$anon_stop"
	echo "MISMATCH: the dimension rerun over $n rows failed: $out"
	status=1
fi
bench_psql -c "SELECT pypeline.drop_etl('rss_dim', 'dimension'); DROP TABLE IF EXISTS rss_dim" >/dev/null
exit $status
