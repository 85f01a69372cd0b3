#!/usr/bin/env bash
# The packages: META.json agrees with the tree and `make dist` archives it
# for PGXN; as root, `make deb` builds postgresql-15-pypeline, the .deb is
# installed, its files are the ones PostgreSQL loads, the extension is
# created from it and the Flashnotes demo runs against it.  The tree's own
# build is installed again at the end, for the tests that follow.
cd "$(dirname "$0")/../.." || exit 1
. regress/t/lib.sh

trap t_finish EXIT
version=$(sed -n 's/^EXTVERSION *= *//p' Makefile)
export PACKAGE_OUT=$T_WORK/build

if bash regress/build-package.sh meta 2>"$T_WORK/meta.err"; then
	t_ok "package: META.json agrees with the Makefile, the control file and the tree"
else
	t_not_ok "package: META.json agrees with the Makefile, the control file and the tree"
	t_diag <"$T_WORK/meta.err"
fi

# The archive is of HEAD; a checkout without commits (a tarball) has none.
if git rev-parse --verify -q HEAD >/dev/null 2>&1; then
	if zip=$(make -s dist 2>"$T_WORK/dist.err"); then
		missing=$(python3 - "$zip" "$version" <<-'PY'
			import sys, zipfile
			names = set(zipfile.ZipFile(sys.argv[1]).namelist())
			prefix = f"pypeline-{sys.argv[2]}/"
			for f in ("META.json", "pypeline.control", "Makefile", "README.md",
			          f"sql/pypeline--{sys.argv[2]}.sql", "src/pypeline.h"):
			    if prefix + f not in names:
			        print(f)
		PY
		)
		t_is "$missing" "" "package: make dist archives the tree under pypeline-$version/"
	else
		t_not_ok "package: make dist"
		t_diag <"$T_WORK/dist.err"
	fi
fi

if [ "$(id -u)" -ne 0 ] || [ -n "${SANITIZE:-}" ]; then
	t_ok "package: the .deb test needs root and the system's PostgreSQL # SKIP"
	exit 0
fi

restore_tree_build() {
	dpkg -r postgresql-15-pypeline >/dev/null 2>&1
	make -s install WERROR=1 >/dev/null 2>&1
}
T_CLEANUP=restore_tree_build

if ! deb=$(make -s deb 2>"$T_WORK/deb.err"); then
	t_not_ok "package: make deb builds the package"
	t_diag <"$T_WORK/deb.err"
	exit 1
fi
t_like "$deb" "postgresql-15-pypeline_${version}_" "package: make deb builds postgresql-15-pypeline $version"
contents=$(dpkg-deb -c "$deb")
for f in /usr/lib/postgresql/15/lib/pypeline.so /usr/share/postgresql/15/extension/pypeline.control \
	/usr/share/postgresql/15/extension/pypeline--$version.sql \
	/usr/share/postgresql/15/extension/pypeline--0.1.0.sql \
	/usr/share/postgresql/15/extension/pypeline--0.1.0--$version.sql; do
	t_like "$contents" ".$f" "package: the package holds $f"
done
t_like "$(dpkg-deb -f "$deb" Depends)" "postgresql-15" "package: it depends on PostgreSQL 15"

if dpkg -i "$deb" >"$T_WORK/dpkg.out" 2>&1; then
	t_ok "package: dpkg -i installs it"
else
	t_not_ok "package: dpkg -i installs it"
	t_diag <"$T_WORK/dpkg.out"
	exit 1
fi
t_is "$(dpkg -V postgresql-15-pypeline 2>&1)" "" "package: the installed files are the package's"

if t_setup_db; then
	t_is "$(t_sql "SELECT extversion FROM pg_extension WHERE extname = 'pypeline'")" "$version" \
		"package: CREATE EXTENSION pypeline from the package"
	t_is "$(t_sql "SELECT count(*) FROM pypeline.query('src', 'SELECT 1') AS t(one int)")" 1 \
		"package: the packaged library reads MariaDB"
else
	t_not_ok "package: CREATE EXTENSION pypeline from the package"
fi

# The demo starts servers of its own, which load the packaged library.
if DEMO_USERS=100 DEMO_PAYMENTS=2000 bash contrib/flashnotes/demo.sh >"$T_WORK/demo.out" 2>&1; then
	t_ok "package: the Flashnotes demo runs against the package"
else
	t_not_ok "package: the Flashnotes demo runs against the package"
	tail -30 "$T_WORK/demo.out" | t_diag
fi
