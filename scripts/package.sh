#!/usr/bin/env bash
# The packages as crates.io would take them: `cargo publish --dry-run` of the library
# and the comparison command (packaged, then built from the package alone), and, with
# `install`, `cargo install --path comparison` into a scratch root, whose `strand-alloc`
# must then run.
# Usage: bash scripts/package.sh [install]
set -euo pipefail
cd "$(dirname "$0")/.."

# The whole workspace at once, so that the command's package is verified against the
# library's package as it would be published (not against crates.io, where it is not).
# Files not yet committed are packaged as they are (the suite runs on a work tree).
#
# Cargo verifies the command against the library's package through a temporary local
# registry, and unpacks that package under $CARGO_HOME/registry/src/-<hash of the registry's
# path>/. An unpacking left there by an earlier run of the same version is reused as it is,
# so the command would be built against the library as it was then. Our own packages'
# unpackings from local registries (the directories whose name starts with "-"; crates.io's
# do not) are removed first: cargo unpacks the new packages again.
version=$(cargo metadata --no-deps --format-version 1 |
    python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "strand-alloc"))')
cargo_home=${CARGO_HOME:-$HOME/.cargo}
for stale in "$cargo_home"/registry/src/-*/strand-alloc-"$version" \
    "$cargo_home"/registry/src/-*/strand-alloc-comparison-"$version"; do
    [[ -d "$stale" ]] && rm -rf "$stale"
done
cargo publish --workspace --dry-run --allow-dirty

if [[ "${1:-}" == "install" ]]; then
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
    cargo install --locked --path comparison --root "$root"
    "$root/bin/strand-alloc" --version
    "$root/bin/strand-alloc" --quick --repeat 1 --workload requests --no-progress \
        --width 80 >/dev/null
    echo "installed and ran: $root/bin/strand-alloc"
fi
