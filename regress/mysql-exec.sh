#!/usr/bin/env bash
# Runs SQL on the test MariaDB as root, for regression tests that change the
# source between loads:  \! bash regress/mysql-exec.sh -e "UPDATE ..."
exec mariadb --no-defaults --default-character-set=utf8mb4 --socket="$MYSQL_SOCK" -uroot pypeline_regress "$@"
