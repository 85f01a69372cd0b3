#!/usr/bin/env bash
# pg_cron really runs a pypeline schedule: a job every minute, waited for
# (pg_cron 1.4 has minute granularity, so this takes up to a minute).
set -u
psql_q() { timeout 30 psql -X -q -At -v ON_ERROR_STOP=1 -d contrib_regression -c "$1"; }

psql_q "CREATE EXTENSION IF NOT EXISTS pg_cron" >/dev/null
psql_q "SELECT pypeline.define_dimension('cron_demo', 'regress_mysql', 'SELECT 1 AS id, ''x'' AS label', 'cron_demo_dim', natural_key => '{id}', active => false)" >/dev/null
job=$(psql_q "SELECT pypeline.schedule('regress-every-minute', '* * * * *', etl => 'cron_demo', kind => 'dimension')")
if [ -n "$job" ]; then echo "ok - pypeline.schedule created cron job $job"; else echo "not ok - pypeline.schedule created no job"; fi

status=
for _ in $(seq 1 150); do
	status=$(psql_q "SELECT status FROM cron.job_run_details WHERE jobid = ${job:-0} AND status IN ('succeeded', 'failed') LIMIT 1")
	[ -n "$status" ] && break
	sleep 0.5
done
if [ "$status" = succeeded ]; then
	echo "ok - pg_cron ran the job and it succeeded"
else
	echo "not ok - pg_cron job status: '${status:-none within 75 s}'"
	psql_q "SELECT * FROM cron.job_run_details" >&2
fi
rows=$(psql_q "SELECT count(*) FROM pypeline.run_log WHERE etl_name = 'cron_demo' AND status = 'success'")
if [ "${rows:-0}" -ge 1 ]; then echo "ok - the scheduled run is in pypeline.run_log"; else echo "not ok - no run_log row for the scheduled run"; fi

psql_q "SELECT pypeline.unschedule('regress-every-minute')" >/dev/null
psql_q "DROP TABLE IF EXISTS cron_demo_dim; DELETE FROM pypeline.run_log WHERE etl_name = 'cron_demo'; DELETE FROM pypeline.dimension WHERE name = 'cron_demo'; DROP EXTENSION pg_cron" >/dev/null
