#!/usr/bin/env bash
# pg_cron really runs a pypeline schedule made in a warehouse database other
# than pg_cron's own (cron.database_name): a job every minute, waited for
# (pg_cron 1.4 has minute granularity, so this takes up to a minute), seen
# with its last run in pypeline.schedules, then unscheduled.  A job name is
# a role's across the cluster: another database cannot take it over.
cd "$(dirname "$0")/../.." || exit 1
. regress/t/lib.sh

cron_db=contrib_regression
cron_q() { timeout 30 psql -X -q -At -v ON_ERROR_STOP=1 -d "$cron_db" -c "$1"; }
cleanup_cron() {
	cron_q "DROP EXTENSION IF EXISTS pg_cron" >/dev/null 2>&1
}
T_CLEANUP=cleanup_cron
trap t_finish EXIT

if ! t_setup_db || ! cron_q "CREATE EXTENSION IF NOT EXISTS pg_cron" >/dev/null; then
	t_not_ok "cron: set-up"
	exit 1
fi
t_is "$(t_sql "SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'")" 0 \
	"cron: the warehouse database has no pg_cron of its own"
t_sql "SELECT pypeline.define_dimension('cron_demo', 'src', 'SELECT 1 AS id, ''x'' AS label', 'cron_demo_dim', natural_key => '{id}', active => false)" >/dev/null
job=$(t_sql "SELECT pypeline.schedule('regress-every-minute', '* * * * *', etl => 'cron_demo', kind => 'dimension')")
t_is "$(cron_q "SELECT database || ' ' || username || ' ' || command FROM cron.job WHERE jobid = ${job:-0}")" \
	"$T_DB postgres SELECT * FROM pypeline.process_etl('cron_demo', 'dimension')" \
	"cron: pypeline.schedule made pg_cron job ${job:-?} for the warehouse's database, as the calling role"

out=$(psql -X -q -At -d "$cron_db" -c "SELECT pypeline.schedule('regress-every-minute', '0 * * * *')" 2>&1)
t_like "$out" 'already has a pg_cron job named "regress-every-minute" in another database' \
	"cron: another database cannot take over the job's name"

status=
for _ in $(seq 1 150); do
	status=$(t_sql "SELECT last_status FROM pypeline.schedules WHERE jobid = ${job:-0} AND last_status IN ('succeeded', 'failed')")
	[ -n "$status" ] && break
	sleep 0.5
done
t_is "$status" succeeded "cron: pg_cron ran the job, and pypeline.schedules shows its last run"
t_is "$(t_sql "SELECT count(*) > 0 FROM pypeline.run_log WHERE etl_name = 'cron_demo' AND status = 'success'")" t \
	"cron: the scheduled run is in the warehouse's pypeline.run_log"

t_is "$(t_sql "SELECT pypeline.unschedule('regress-every-minute')")|$(t_sql "SELECT pypeline.unschedule('regress-every-minute')")|$(t_sql "SELECT count(*) FROM pypeline.schedules")" \
	"t|f|0" "cron: unschedule removes the job once, and pypeline.schedules is empty"
