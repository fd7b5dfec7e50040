#!/usr/bin/env bash
# Features are additive: a program that asks for strand-arena gets strand-arena, whether
# or not a sibling crate in the same build enables the default features (thread-arena).
# Builds the two-crate workspace in tests/additive both ways and compares what the
# program prints of its own backend.
# Usage: bash scripts/additive.sh
set -euo pipefail
cd "$(dirname "$0")/../tests/additive"
target=../../target/additive
alone=$(cargo run -q --target-dir "$target" -p additive-app)
with=$(cargo run -q --target-dir "$target" -p additive-app --features with-sibling)
echo "alone:        $alone"
echo "with sibling: $(head -1 <<<"$with")  ($(tail -1 <<<"$with"))"
expected="backend strand-arena strand strand-arena value value handle handle"
if [ "$alone" != "$expected" ] || [ "$(head -1 <<<"$with")" != "$expected" ]; then
    echo "the program's backend changed with a sibling's features" >&2
    exit 1
fi
grep -q "^sibling thread-arena from the sibling$" <<<"$with" || {
    echo "the sibling did not get its own backend: $with" >&2
    exit 1
}
echo "additive: the program's backend is the one it names, with or without the sibling"
