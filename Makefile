# privacy_guard: PGXS build.  `make test` and `make demo` work on a fresh
# Debian machine: they install what is missing before they build.

EXTENSION      = privacy_guard
MODULE_big     = privacy_guard
OBJS           = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
DATA           = $(wildcard sql/privacy_guard--*.sql)
PGFILEDESC     = "privacy_guard - the database enforces the privacy policy"
SHLIB_LINK    += -lcrypto
PG_CPPFLAGS   += -Isrc

REGRESS        = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS   = --inputdir=test --temp-config=test/privacy_guard.conf --temp-instance=tmp_check
REGRESS_PREP   = test/regress.keyring
ISOLATION      = $(patsubst test/specs/%.spec,%,$(sort $(wildcard test/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test --outputdir=. --temp-config=test/privacy_guard_iso.conf --temp-instance=tmp_iso
TAP_TESTS      = 1
PROVE_TESTS    = test/t/*.pl
EXTRA_CLEAN    = tmp_check tmp_iso output_iso results regression.diffs regression.out test/regress.keyring

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)

ifneq ($(PGXS),)
include $(PGXS)
else
# No PostgreSQL development files yet: only the entry points that install them.
all install installcheck:
	@echo "pg_config not found: run 'sudo scripts/setup.sh' first (or 'make test')" >&2; exit 1
endif

# The regression keyring: one random master key, mode 0600, never committed.
test/regress.keyring:
	umask 077 && { echo "1:$$(openssl rand -hex 32)"; } > $@

.PHONY: test demo bench
test:
	bash scripts/test.sh
demo:
	bash scripts/demo.sh
bench:
	bash scripts/bench.sh
