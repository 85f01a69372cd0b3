#!/usr/bin/env bash
# make check: starts throwaway servers, loads the MariaDB fixtures, runs the
# pg_regress tests named on the command line and every regress/t/*.sh fault
# test, stops the servers, prints "N passed, N failed" and fails on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
. regress/servers.sh

servers_start contrib_regression || { echo "0 passed, 1 failed"; exit 1; }
mysql_root <regress/fixtures/source.sql || { echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
outdir=$PYPELINE_TMP/regress
mkdir -p "$outdir"

"$PGLIB/pgxs/src/test/regress/pg_regress" --inputdir=. --outputdir="$outdir" --bindir="$PGBIN" \
	--host="$PGHOST" --port="$PGPORT" --user=postgres --dbname=contrib_regression \
	"$@" | tee "$outdir/summary"
passed=$((passed + $(grep -c ' \.\.\. ok' "$outdir/summary")))
failed=$((failed + $(grep -c ' \.\.\. FAILED' "$outdir/summary")))
if [ -s "$outdir/regression.diffs" ]; then
	echo "==== regression.diffs ===="
	head -400 "$outdir/regression.diffs"
	rm -rf results; cp -r "$outdir/results" results; cp "$outdir/regression.diffs" regression.diffs
fi

# Fault and process-level tests: each prints "ok - ..." or "not ok - ...".
# FAULT_TESTS chooses which (default: all; empty: none); lib.sh is their library.
for t in ${FAULT_TESTS-regress/t/*.sh}; do
	[ -e "$t" ] && [ "$(basename "$t")" != lib.sh ] || continue
	echo "==== $t"
	bash "$t" 2>&1 | tee "$outdir/fault.out"
	passed=$((passed + $(grep -c '^ok ' "$outdir/fault.out")))
	failed=$((failed + $(grep -c '^not ok ' "$outdir/fault.out")))
done

# make check SANITIZE=1: the server really ran with the sanitizers, and
# each report (one file per process, see regress/servers.sh) is a failure.
# The server is stopped first, so that reports at exit are written too.
if [ -n "${SANITIZE:-}" ]; then
	echo "==== sanitizers"
	if grep -q libasan "/proc/$(head -1 "$PYPELINE_TMP/pg/postmaster.pid")/maps" 2>/dev/null &&
		readelf -d "$("$PGBIN/pg_config" --pkglibdir)/pypeline.so" | grep -q 'NEEDED.*libasan'; then
		echo "ok - sanitizer: PostgreSQL runs with the ASan runtime and an instrumented pypeline.so"
		passed=$((passed + 1))
	else
		echo "not ok - sanitizer: PostgreSQL runs with the ASan runtime and an instrumented pypeline.so"
		failed=$((failed + 1))
	fi
	as_server_user "$PGBIN/pg_ctl" -D "$PYPELINE_TMP/pg" -m fast -w stop >/dev/null 2>&1
	reports=0
	for f in "$PYPELINE_TMP"/sanitizer.*; do
		[ -e "$f" ] || continue
		reports=$((reports + 1))
		echo "not ok - sanitizer: report $(basename "$f")"
		head -100 "$f"
		failed=$((failed + 1))
	done
	if [ "$reports" -eq 0 ]; then
		echo "ok - sanitizer: no report from AddressSanitizer or UndefinedBehaviorSanitizer"
		passed=$((passed + 1))
	fi
fi

if [ "$failed" -gt 0 ]; then
	echo "==== PostgreSQL log (tail) ===="
	tail -50 "$PYPELINE_TMP/postgres.log"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
