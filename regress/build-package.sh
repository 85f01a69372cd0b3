#!/usr/bin/env bash
# Packages of pypeline: `make deb` and `make dist` call this.
#
#   build-package.sh deb    the Debian package postgresql-15-pypeline, built
#                           with pg_buildext (debian/) from a copy of the tree;
#                           the .deb goes to build/ (or $PACKAGE_OUT)
#   build-package.sh dist   the PGXN archive pypeline-<version>.zip of HEAD,
#                           after checking META.json against the tree
#
# As root, missing build packages are installed first (apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^EXTVERSION *= *//p' Makefile)
out=${PACKAGE_OUT:-$PWD/build}
mkdir -p "$out"

# META.json must describe this tree: PGXN rejects a release whose files or
# versions disagree with it.
check_meta() {
	python3 - "$version" <<'PY'
import json, os, re, sys
version = sys.argv[1]
meta = json.load(open("META.json"))
errors = []
for key in ("name", "abstract", "version", "maintainer", "license", "provides", "meta-spec"):
    if key not in meta:
        errors.append(f"META.json has no \"{key}\"")
if meta.get("version") != version:
    errors.append(f"META.json version {meta.get('version')} is not the Makefile's {version}")
control = open("pypeline.control").read()
default = re.search(r"default_version\s*=\s*'([^']*)'", control)
if not default or default.group(1) != version:
    errors.append(f"pypeline.control's default_version is not {version}")
for name, p in meta.get("provides", {}).items():
    if p.get("version") != version:
        errors.append(f"provides.{name}.version is not {version}")
    for f in ("file", "docfile"):
        if f in p and not os.path.exists(p[f]):
            errors.append(f"provides.{name}.{f} {p[f]} does not exist")
if meta.get("meta-spec", {}).get("version") != "1.0.0":
    errors.append("meta-spec.version must be 1.0.0")
for e in errors:
    print(e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
}

# The files of the tree a package is made from: git's (tracked and new,
# not ignored) in a checkout, else everything but build output.
copy_tree() {
	local dest=$1
	mkdir -p "$dest"
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files -z --cached --others --exclude-standard |
			while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
			tar --null -T - -cf - | tar -xf - -C "$dest"
	else
		tar --exclude=./build --exclude=./tmp_install --exclude='*.o' --exclude='*.so' \
			--exclude=./results -cf - . | tar -xf - -C "$dest"
	fi
}

build_deb() {
	bash regress/install-deps.sh debhelper postgresql-server-dev-all build-essential
	work=$(mktemp -d /tmp/pypeline-deb.XXXXXX)
	trap 'rm -rf "$work"' EXIT
	copy_tree "$work/pypeline-$version"
	(cd "$work/pypeline-$version" && dpkg-buildpackage -b -us -uc) >"$work/build.log" 2>&1 ||
		{ tail -40 "$work/build.log" >&2; echo "dpkg-buildpackage failed" >&2; exit 1; }
	cp "$work"/*.deb "$out/"
	ls "$out"/postgresql-15-pypeline_"$version"_*.deb
}

build_dist() {
	check_meta
	git archive --format=zip --prefix="pypeline-$version/" -o "$out/pypeline-$version.zip" HEAD
	echo "$out/pypeline-$version.zip"
}

case ${1:-} in
deb) build_deb ;;
dist) build_dist ;;
meta) check_meta ;;
*)
	echo "usage: $0 deb|dist|meta" >&2
	exit 2
	;;
esac
