#!/usr/bin/env bash
# Binary log capture against a reference model (regress/capture_model_test.py):
# random rounds of MariaDB changes, each followed by a captured dimension's
# run and a comparison of every version with the model.  Seeded:
# CAPTURE_MODEL_SEED replays a run; FUZZ multiplies the rounds.
cd "$(dirname "$0")/../.." || exit 1
. regress/t/lib.sh

seed=${CAPTURE_MODEL_SEED:-$(date +%s)}
rounds=${CAPTURE_MODEL_ROUNDS:-$((60 * ${FUZZ:-1}))}
cleanup_mysql() {
	t_mysql -e "DROP TABLE IF EXISTS cm_item; DROP USER IF EXISTS cm_capture@'%'"
}
T_CLEANUP=cleanup_mysql
trap t_finish EXIT

t_ensure_mariadb
if ! t_setup_db; then
	t_not_ok "capture_model: set-up"
	exit 1
fi
t_mysql -e "DROP USER IF EXISTS cm_capture@'%'; CREATE USER cm_capture@'%' IDENTIFIED BY 'cm_secret';
	GRANT SELECT ON pypeline_regress.* TO cm_capture@'%'; GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO cm_capture@'%'"
timeout -k 5 1200 python3 regress/capture_model_test.py "$seed" "$rounds" "$T_DB" "$MYSQL_SOCK" "$MYSQL_PORT" \
	>"$T_WORK/capture_model.out" 2>&1
rc=$?
cat "$T_WORK/capture_model.out"
if [ "$rc" -ne 0 ] || ! grep -q '^ok - \|^not ok - ' "$T_WORK/capture_model.out"; then
	t_not_ok "capture_model: the model test ran to the end (seed $seed, status $rc)"
fi
