# pypeline: PostgreSQL extension that loads Kimball star schemas from MySQL/MariaDB.
#
#   make            build the extension
#   make install    install it into the PostgreSQL found by $(PG_CONFIG)
#   make check      install missing Debian packages (as root), build, install, start
#                   throwaway MariaDB + PostgreSQL 15 and run every test
#   make demo       the same set-up, then the Flashnotes warehouse end to end
#   make bench      benchmarks against the alternatives (minutes; not part of check)

EXTENSION  = pypeline
EXTVERSION = 0.1.0
MODULE_big = pypeline
OBJS = \
	src/pypeline.o \
	src/options.o \
	src/connection.o \
	src/source.o \
	src/convert.o \
	src/query.o \
	src/stage.o \
	src/catalog.o \
	src/dimension.o \
	src/versions.o \
	src/schema.o \
	src/fact.o \
	src/etl.o \
	src/progress.o \
	src/worker.o

DATA = sql/pypeline--$(EXTVERSION).sql
PGFILEDESC = "pypeline - dimensional warehouse loads from MySQL/MariaDB"

MARIADB_CONFIG ?= mariadb_config
# PostgreSQL's headers as system headers: -Wextra then judges pypeline's code,
# not theirs (they have unused parameters in inline functions).
PG_CPPFLAGS = -isystem $(shell $(PG_CONFIG) --includedir-server) \
	$(shell $(MARIADB_CONFIG) --cflags) -Wall -Wextra -Werror
SHLIB_LINK = $(shell $(MARIADB_CONFIG) --libs)

# make check SANITIZE=1: AddressSanitizer and UndefinedBehaviorSanitizer in
# the extension (they link through CFLAGS); the objects remember the flags
# they were built with (src/.sanitize-flags), so switching rebuilds them.
ifdef SANITIZE
SANITIZE_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
PG_CFLAGS += $(SANITIZE_FLAGS)
endif
EXTRA_CLEAN = src/.sanitize-flags tmp_install

# Regression tests run by regress/check.sh, in this order (sql/<name>.sql,
# expected/<name>.out).  Not called REGRESS so PGXS does not install its own
# "check" target, which cannot start a MySQL server.
TESTS = init options query types errors connections tls dimension_type1 dimension_type2 dimension_rules fact etl_run async security flashnotes

# Debian's /usr/bin/pg_config picks the newest server-dev; pypeline targets 15.
# Debian's /usr/bin/pg_config picks the newest server-dev; pypeline targets 15.
PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)

# The targets below install their own prerequisites first, so they must not
# need PGXS (which may not be installed yet) and do not share its "check".
OWN_TARGETS = deps check demo bench
.PHONY: $(OWN_TARGETS)

# No JIT bitcode: it would need clang, and ETL code gains nothing from it.
override with_llvm = no

ifeq ($(filter $(OWN_TARGETS),$(MAKECMDGOALS)),)
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# every source includes the one header; PGXS tracks no header dependencies
$(OBJS): src/pypeline.h src/.sanitize-flags

src/.sanitize-flags: FORCE
	@echo '$(SANITIZE_FLAGS)' | cmp -s - $@ || echo '$(SANITIZE_FLAGS)' >$@
.PHONY: FORCE
else

deps:
	@bash regress/install-deps.sh

# With SANITIZE the instrumented build goes to tmp_install/, never over the
# system's pypeline.so: regress/servers.sh runs a private copy of PostgreSQL
# with it, the ASan runtime preloaded.
check: deps
	$(MAKE) all
ifdef SANITIZE
	rm -rf tmp_install
	$(MAKE) install DESTDIR=$(CURDIR)/tmp_install
	@SANITIZE=1 PYPELINE_DESTDIR=$(CURDIR)/tmp_install bash regress/check.sh $(TESTS)
else
	$(MAKE) install
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
endif
