#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time (default 30 s each), starting from the
# committed seed corpus in fuzz/corpus/TARGET. New inputs go to a scratch directory, so the
# work tree stays clean; crashes land in fuzz/artifacts/TARGET and fail the script.
# Installs the nightly toolchain and cargo-fuzz when they are missing.
# Usage: bash scripts/fuzz.sh [seconds-per-target] [target...]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(ops config variants deep scopes)
fi

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

cd fuzz
# Without trace-compares instrumentation: the inputs are structured (derived with
# `arbitrary`), so comparison tracing buys little coverage here, and it halves the
# execution rate of the deep-value target.
flags=(--no-trace-compares)
cargo +nightly fuzz build "${flags[@]}"
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    scratch=$(mktemp -d)
    printf '\n==> fuzz %s for %ss\n' "$t" "$seconds"
    status=0
    cargo +nightly fuzz run "${flags[@]}" "$t" "$scratch" "corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1 \
        >"$scratch.log" 2>&1 || status=$?
    grep -E '^(stat::number_of_executed_units|==[0-9]+== ?ERROR|SUMMARY|thread .* panicked)' "$scratch.log" || true
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch.log")
    if [ -n "$runs" ]; then
        echo "executions per second: $((runs / seconds))"
    fi
    if [ "$status" -ne 0 ]; then
        tail -40 "$scratch.log" >&2
    fi
    rm -rf "$scratch" "$scratch.log"
    if [ "$status" -ne 0 ]; then
        echo "fuzz target $t failed (see fuzz/artifacts/$t)" >&2
        exit "$status"
    fi
done
