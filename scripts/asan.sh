#!/usr/bin/env bash
# Runs the runtime example (examples/runtime.rs: one-word handles, shared values, releases
# from other strands, resets, on every backend) under AddressSanitizer, plain and checked,
# and the guard against May's sleep race (examples/may_sleep_race.rs, `hop`).
# May switches stacks without telling the sanitizer, so its warnings about unannotated
# stack switches are expected; any error report fails the run.
# Installs the nightly toolchain and rust-src when they are missing.
# Usage: bash scripts/asan.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! rustup +nightly component list --installed | grep -q '^rust-src'; then
    rustup component add rust-src --toolchain nightly
fi

target=$(rustc -vV | sed -n 's/^host: //p')
for features in all-backends all-backends,checked; do
    echo "runtime example under AddressSanitizer, features $features"
    # The example's own counting allocator is the global allocator; ASan intercepts the
    # system allocator beneath it. Leak checking is off: May keeps its worker threads'
    # memory until exit by design.
    RUSTFLAGS="-Zsanitizer=address" ASAN_OPTIONS="detect_leaks=0:detect_stack_use_after_return=0" \
        cargo +nightly run -Zbuild-std --target "$target" --target-dir target/asan \
        --no-default-features --features "$features" --example runtime
done

# May's zero-length sleep race (examples/may_sleep_race.rs): 100,000 strands that hop and
# end at once. `hop` keeps each strand's handle until its worker's next hop; without that
# guard AddressSanitizer reports a heap-use-after-free in May within these rounds.
echo "the guard against May's sleep race under AddressSanitizer: 100,000 strands through hop"
RUSTFLAGS="-Zsanitizer=address" ASAN_OPTIONS="detect_leaks=0:detect_stack_use_after_return=0" \
    cargo +nightly run -Zbuild-std --target "$target" --target-dir target/asan \
    --no-default-features --features thread-arena --example may_sleep_race -- hop 200
