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
