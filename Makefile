# pypeline: PostgreSQL extension that loads Kimball star schemas from MySQL/MariaDB.
#
#   make            build the extension
#   make install    install it into the PostgreSQL found by $(PG_CONFIG)
#   make check      install missing Debian packages (as root), build, install, start
#                   throwaway MariaDB + PostgreSQL 15 and run every test
#   make demo       the same set-up, then the Flashnotes warehouse end to end
#   make bench      benchmarks against the alternatives (minutes; not part of check)
#   make deb        the Debian package postgresql-15-pypeline, in build/
#   make dist       the PGXN archive of HEAD, in build/

EXTENSION  = pypeline
EXTVERSION = 0.2.0
MODULE_big = pypeline
OBJS = \
	src/pypeline.o \
	src/privilege.o \
	src/options.o \
	src/connection.o \
	src/source.o \
	src/split.o \
	src/binlog.o \
	src/convert.o \
	src/query.o \
	src/deparse.o \
	src/execute.o \
	src/stage.o \
	src/catalog.o \
	src/target.o \
	src/partition.o \
	src/members.o \
	src/dimension.o \
	src/versions.o \
	src/schema.o \
	src/lookup.o \
	src/fact.o \
	src/runlog.o \
	src/run.o \
	src/progress.o \
	src/schedule.o \
	src/task.o \
	src/worker.o

# The install script, and every release before it with the scripts that
# update it (pypeline--OLD--NEW.sql), so that ALTER EXTENSION ... UPDATE works.
DATA = sql/pypeline--$(EXTVERSION).sql sql/pypeline--0.1.0.sql sql/pypeline--0.1.0--0.2.0.sql
PGFILEDESC = "pypeline - dimensional warehouse loads from MySQL/MariaDB"

MARIADB_CONFIG ?= mariadb_config
# PostgreSQL's headers as system headers: -Wextra then judges pypeline's code,
# not theirs (they have unused parameters in inline functions).
PG_CPPFLAGS = -isystem $(shell $(PG_CONFIG) --includedir-server) \
	$(shell $(MARIADB_CONFIG) --cflags) -Wall -Wextra $(WERROR_FLAGS)
SHLIB_LINK = $(shell $(MARIADB_CONFIG) --libs)

# make check SANITIZE=1: AddressSanitizer and UndefinedBehaviorSanitizer in
# the extension (they link through CFLAGS); the objects remember the flags
# they were built with (src/.build-flags), so switching rebuilds them.
ifdef SANITIZE
SANITIZE_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
PG_CFLAGS += $(SANITIZE_FLAGS)
endif

# make check builds with WERROR=1: any warning fails it.  A plain make (a
# packager's, on a newer compiler) only warns.
ifdef WERROR
WERROR_FLAGS = -Werror
endif
EXTRA_CLEAN = src/.build-flags tmp_install build

# Regression tests run by regress/check.sh, in this order (sql/<name>.sql,
# expected/<name>.out).  Not called REGRESS so PGXS does not install its own
# "check" target, which cannot start a MySQL server.
TESTS = init options query types conversions errors connections tls capture binlog dimension_type1 dimension_type2 dimension_rules history fact fact_kinds fact_lookups partitions split rebuild rerun etl_run async security roles flashnotes

# Debian's /usr/bin/pg_config picks the newest server-dev; pypeline targets 15.
PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)

# The targets below install their own prerequisites first, so they must not
# need PGXS (which may not be installed yet) and do not share its "check".
OWN_TARGETS = deps check demo bench deb dist
.PHONY: $(OWN_TARGETS)

# No JIT bitcode: it would need clang, and ETL code gains nothing from it.
override with_llvm = no

ifeq ($(filter $(OWN_TARGETS),$(MAKECMDGOALS)),)
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# every source includes the one header; PGXS tracks no header dependencies
$(OBJS): src/pypeline.h src/.build-flags

src/.build-flags: FORCE
	@echo '$(SANITIZE_FLAGS) $(WERROR_FLAGS)' | cmp -s - $@ || echo '$(SANITIZE_FLAGS) $(WERROR_FLAGS)' >$@
.PHONY: FORCE
else

deps:
	@bash regress/install-deps.sh

# With SANITIZE the instrumented build goes to tmp_install/, never over the
# system's pypeline.so: regress/servers.sh runs a private copy of PostgreSQL
# with it, the ASan runtime preloaded.
check: deps
	$(MAKE) all WERROR=1
ifdef SANITIZE
	rm -rf tmp_install
	$(MAKE) install WERROR=1 DESTDIR=$(CURDIR)/tmp_install
	@SANITIZE=1 PYPELINE_DESTDIR=$(CURDIR)/tmp_install bash regress/check.sh $(TESTS)
else
	$(MAKE) install WERROR=1
	@bash regress/check.sh $(TESTS)
endif

demo: deps
	$(MAKE) all
	$(MAKE) install
	@bash contrib/flashnotes/demo.sh

bench: deps
	$(MAKE) all
	$(MAKE) install
	@bash contrib/bench/run.sh

deb: deps
	@bash regress/build-package.sh deb

dist:
	@bash regress/build-package.sh dist
endif
