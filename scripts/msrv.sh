#!/usr/bin/env bash
# Builds the library with the Rust version its Cargo.toml declares (`rust-version`),
# with the committed Cargo.lock (`--locked`), for each backend alone and all together:
# what a runtime pinned to that version gets. Installs that toolchain with rustup when
# it is missing.
# Usage: bash scripts/msrv.sh
set -euo pipefail
cd "$(dirname "$0")/.."

msrv=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
if [[ -z "$msrv" ]]; then
    echo "Cargo.toml declares no rust-version" >&2
    exit 1
fi
if ! rustup run "$msrv" rustc --version >/dev/null 2>&1; then
    rustup toolchain install "$msrv" --profile minimal
fi
echo "rust-version $msrv: $(rustup run "$msrv" rustc --version)"
# A target directory of its own: the artefacts of another compiler version would only
# be rebuilt in the main one.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/msrv"
# Warnings are errors: a feature set the suite's clippy run (all features) does not
# build alone can still leave something unused.
export RUSTFLAGS="${RUSTFLAGS:-} -D warnings"
for features in thread-arena global-malloc strand-arena all-backends,serde \
    all-backends,seed-arena thread-arena,checked global-malloc,checked strand-arena,checked; do
    echo "-- --features $features"
    cargo "+$msrv" check --locked --lib -p strand-alloc --no-default-features \
        --features "$features"
done
