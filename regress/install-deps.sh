#!/usr/bin/env bash
# Installs the Debian 12 packages that building, testing and the demo need,
# and those named as arguments (the Debian package build's, for instance).
# Does nothing when they are all present; needs root only when something is missing.
set -euo pipefail

packages=(
	make gcc
	postgresql-15 postgresql-server-dev-15 postgresql-15-cron   # server, PGXS, pg_cron 1.4
	libmariadb-dev                                               # MySQL client library (Connector/C)
	mariadb-server mariadb-client                                # throwaway source server for tests
	libipc-run-perl                                              # PostgreSQL::Test modules
	procps                                                       # ps, for RSS measurements
	openssl                                                      # test certificates
	python3                                                      # the lying MySQL server of the fault tests
	"$@"
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "missing Debian packages: ${missing[*]}" >&2
	echo "run 'make check' as root once, or: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# policy-rc.d keeps the packaged services from starting: tests start their own servers.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
