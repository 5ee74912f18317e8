#!/usr/bin/env bash
# The whole test suite: unit tests and the integration suites, each run on SQLite and on
# PostgreSQL (127.0.0.1:5432, started here if it is down). There is no switch to skip
# PostgreSQL: without it, its tests fail.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-postgres.sh

# Browser tests: Debian's chromium, driven by playwright-core from npm.
if ! command -v chromium >/dev/null; then
  echo "test.sh: installing chromium from Debian packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  echo "test.sh: installing playwright-core (npm ci in tests/browser)" >&2
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
export DANTOC_TEST_PG_URL="${DANTOC_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  echo "cargo-nextest not found: using cargo test" >&2
  cargo test --workspace --no-fail-fast "$@"
fi
