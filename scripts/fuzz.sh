#!/usr/bin/env bash
# Fuzz the request parsers and the CSV importer (cargo-fuzz, libFuzzer, AddressSanitizer), each
# target for a bounded time. Not part of .ci/run: run it by hand or in a separate job.
#
#   bash scripts/fuzz.sh                      # every target, 30 s each
#   FUZZ_SECONDS=300 bash scripts/fuzz.sh     # longer
#   FUZZ_TARGETS="csv_values formula" bash scripts/fuzz.sh
#
# Targets live in fuzz/fuzz_targets/ (their own cargo workspace); seed inputs in fuzz/seeds/.
# The growing corpus goes to fuzz/corpus/<target>/, crashing inputs to fuzz/artifacts/<target>/,
# and each run's output to fuzz/artifacts/<target>.log. Reproduce a crash with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/crash-…
# Exits non-zero if any target crashed (a panic, a sanitizer report, a timeout or running out of
# memory).
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${FUZZ_SECONDS:-30}
# cargo-fuzz builds with -Z flags (sanitizers, coverage instrumentation); the stable toolchain
# accepts them with RUSTC_BOOTSTRAP=1, so no nightly toolchain is needed.
export RUSTC_BOOTSTRAP=1
export RUSTUP_TOOLCHAIN=${RUSTUP_TOOLCHAIN:-stable}

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

targets=${FUZZ_TARGETS:-$(cargo fuzz list)}

echo "== building the fuzz targets"
cargo fuzz build

mkdir -p fuzz/artifacts
failed=()
summary=()
for t in $targets; do
  echo "== fuzzing $t for ${secs} s"
  mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t"
  log="fuzz/artifacts/$t.log"
  # the first directory receives new inputs; the seeds are read only
  if cargo fuzz run "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1; then
    status=ok
  else
    status=CRASH
    failed+=("$t")
    grep -E "panicked at|ERROR: (libFuzzer|AddressSanitizer)|SUMMARY|Test unit written" "$log" | head -20 >&2 || true
  fi
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1 || true)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || true)
  summary+=("$(printf '%-14s %-6s %4s s  %10s executions  coverage %s' "$t" "$status" "$secs" "${execs:-?}" "${cov:-?}")")
done

echo "== fuzzing summary"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAIL: crashes in ${failed[*]} (inputs in fuzz/artifacts/, output in fuzz/artifacts/<target>.log)" >&2
  exit 1
fi
echo "no crash found"
