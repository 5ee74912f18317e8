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
# GDAL's OGC API – Features client (ogrinfo, OAPIF driver) reads /ogcapi in crates/web/tests/gis.rs.
if ! command -v ogrinfo >/dev/null; then
  echo "test.sh: installing gdal-bin from Debian packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq gdal-bin >/dev/null
fi
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  echo "test.sh: installing playwright-core (npm ci in tests/browser)" >&2
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
# Independent readers of the report outputs (crates/report tests): openpyxl for xlsx, pysdmx for
# SDMX-CSV, in a venv made again only when tests/python/requirements.txt changes.
venv=target/pytest-venv
want="$(sha256sum tests/python/requirements.txt | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  echo "test.sh: making $venv (pip install -r tests/python/requirements.txt)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements.txt
  echo "$want" > "$venv/.requirements.sha256"
fi
export DANTOC_TEST_PYTHON="$PWD/$venv/bin/python"
export DANTOC_TEST_PG_URL="${DANTOC_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  echo "cargo-nextest not found: using cargo test" >&2
  cargo test --workspace --no-fail-fast "$@"
fi
