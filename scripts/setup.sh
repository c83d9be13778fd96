#!/usr/bin/env bash
# Install the Debian packages privacy_guard needs to build, test and run its
# demo.  Safe to run again: it installs only what is missing.
set -euo pipefail

packages=(
	build-essential             # compiler and make
	openssl                     # test keyrings: openssl rand
	libssl-dev                  # OpenSSL headers (libcrypto)
	postgresql-15               # the server the tests and demo run
	postgresql-server-dev-15    # PGXS, pg_regress, pg_isolation_regress
	libpq-dev                   # libpq: a standby's audit writer reaches its primary
	libsodium-dev               # wiping dead stack; the fuzzer's third AES-GCM to agree with
	libipc-run-perl             # TAP tests (PostgreSQL::Test::Cluster)
	postgresql-15-cron          # scheduling (issue: erasure and retention)
	postgresql-15-pgaudit       # pgaudit beside privacy_guard (test/t/016_pgaudit.pl)
	postgresql-contrib          # pgcrypto, the benchmark's baseline
	clang                       # libFuzzer harnesses (scripts/fuzz.sh)
	libclang-rt-14-dev          # libFuzzer and the sanitizers' runtime
	sqlsmith                    # random queries against a shop (scripts/fuzz.sh)
	python3-psycopg2            # real clients (test/t/012_clients.pl)
	nodejs                      # node-postgres, from npm (test/clients)
)

missing=()
for p in "${packages[@]%% *}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm comes with some builds of nodejs, and as its own package with Debian's
command -v npm >/dev/null || missing+=(npm)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# node-postgres for the client tests, at the version package-lock.json names
cd "$(dirname "$0")/../test/clients"
if [ ! -f node_modules/pg/package.json ]; then
	echo "setup: installing node-postgres (npm ci in test/clients)"
	npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
