#!/usr/bin/env bash
# Dimension history against a reference model (regress/model_test.py): a
# few hundred random sequences of source changes and loads, each compared
# with the model after every load, row by row, and checked with
# pypeline.check_dimension/check_fact.  Seeded: MODEL_SEED replays a run,
# FUZZ multiplies the sequences (make check FUZZ=10).
cd "$(dirname "$0")/../.." || exit 1
. regress/t/lib.sh

seed=${MODEL_SEED:-$(date +%s)}
count=${MODEL_SEQUENCES:-$((240 * ${FUZZ:-1}))}
trap t_finish EXIT

t_ensure_mariadb
if ! t_setup_db; then
	t_not_ok "model: set-up"
	exit 1
fi
timeout -k 5 3000 python3 regress/model_test.py "$seed" "$count" "$T_DB" "$MYSQL_SOCK" >"$T_WORK/model.out" 2>&1
rc=$?
cat "$T_WORK/model.out"
if [ "$rc" -ne 0 ] || ! grep -q '^ok - \|^not ok - ' "$T_WORK/model.out"; then
	t_not_ok "model: the model test ran to the end (seed $seed, status $rc)"
fi
