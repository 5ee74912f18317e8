#!/usr/bin/env bash
# The whole test suite: unit tests and the integration suites, each run on SQLite and on
# PostgreSQL (127.0.0.1:5432, started here if it is down). There is no switch to skip
# PostgreSQL: without it, its tests fail.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-postgres.sh
export DANTOC_TEST_PG_URL="${DANTOC_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  echo "cargo-nextest not found: using cargo test" >&2
  cargo test --workspace --no-fail-fast "$@"
fi
