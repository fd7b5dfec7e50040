#!/usr/bin/env bash
# Runs every test that does not need May under Miri, with strict provenance: the library's
# unit tests and the integration tests that use plain OS threads (threshold, leaks, the
# hazards of the seed policy). Tests that need May are compiled out or ignored under
# Miri, which cannot run May's stack switching.
# Installs the nightly toolchain, Miri and rust-src when they are missing.
# Usage: bash scripts/miri.sh [extra cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
installed=$(rustup +nightly component list --installed)
for component in miri rust-src; do
    if ! grep -q "^$component" <<<"$installed"; then
        rustup component add "$component" --toolchain nightly
    fi
done
cargo +nightly miri setup

# Every safe backend and the seed policy (which brings in `checked`), so the checked
# paths and the hazards are interpreted too.
flags="${MIRIFLAGS:--Zmiri-strict-provenance}"
features=all-backends,seed-arena,serde
MIRIFLAGS="$flags" cargo +nightly miri test --no-default-features --features "$features" \
    --lib --tests "$@" -- --skip thread_locals_drop_cleanly_at_thread_exit
# This test leaks a strand on purpose (a value whose strand is `Box::leak`ed lives in a
# thread-local until thread exit), so Miri's leak report is expected there and turned off.
MIRIFLAGS="$flags -Zmiri-ignore-leaks" cargo +nightly miri test --no-default-features \
    --features "$features" --test thread_exit "$@"
# The one-word handles (slots, homes, shared values, releases from other threads, both
# levels of figures side by side) under Tree Borrows too: what Stacked Borrows accepts
# for them, Tree Borrows must as well.
MIRIFLAGS="$flags -Zmiri-tree-borrows" cargo +nightly miri test --no-default-features \
    --features "$features" --test handles --test handle_threads --test handle_leaks \
    --test handle_scopes --test full_figures "$@"
