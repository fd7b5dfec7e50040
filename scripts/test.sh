#!/usr/bin/env bash
# The whole test suite: formatting, lints, rustdoc, the feature matrix (each backend
# alone and all together, the comparison's quick suite with its `http` workload under
# wrk), the runtime example (plain, checked and under AddressSanitizer), fuzzing, Miri
# (on one core, beside the steps after it), a share of the mutation tests, the stress
# run, the benchmarks' quick runs, and the check that a build with no backend fails with
# a clear message.
# Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s (at %d s)\n' "$*" "$SECONDS"; }

step "wrk, for the comparison's http workload (installed when missing)"
bash scripts/wrk.sh

step "rustfmt"
cargo fmt --all -- --check

step "clippy (the library and the comparison command: all features, all targets)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "rustdoc without warnings (broken or ambiguous links, missing docs)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --features all-backends,seed-arena,serde

step "rustdoc with the default features alone, as a dependent crate's build sees it"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps

step "the library alone pulls in none of the command's dependencies"
deps=$(cargo tree -e normal --no-default-features --features thread-arena --prefix none)
if grep -E '^(clap|comfy-table|indicatif|plotters|serde|serde_json) ' <<<"$deps"; then
    echo "the library with default features depends on the above" >&2
    exit 1
fi
echo "none of clap, comfy-table, indicatif, plotters, serde, serde_json"

# The quick checks of what a user installs come before the long steps, so that they fail early.
step "the package: cargo publish --dry-run of the library and the command (scripts/package.sh; the install: scripts/package.sh install)"
bash scripts/package.sh

step "a build with no backend is refused with a clear message"
if out=$(cargo check --lib --no-default-features 2>&1); then
    echo "a build with no backend feature succeeded; it must fail" >&2
    exit 1
fi
grep -q "no backend enabled; enable at least one of the features" <<<"$out" || {
    echo "$out" >&2
    echo "the no-backend build failed without the expected message" >&2
    exit 1
}
echo "refused as expected"

for features in thread-arena global-malloc strand-arena; do
    step "tests with --features $features"
    cargo test --no-default-features --features "$features"
done

step "tests with --features all-backends"
cargo test --no-default-features --features all-backends

# The same with checked handles and the seed policy, whose hazards must all be caught, and
# with the full level of figures (migrations and stranded bytes counted exactly).
step "tests with --features all-backends,seed-arena,full-figures (checked, every figure)"
cargo test --no-default-features --features all-backends,seed-arena,full-figures

step "the comparison command's tests (its quick suite on every backend, bad input, outputs)"
cargo test -p strand-alloc-comparison

step "the comparison command's quick suite with the seed policy beside the safe backends"
cargo test -p strand-alloc-comparison --features seed-arena --test comparison -- \
    quick_comparison_figures_are_consistent

step "the runtime example (one-word handles, extern \"C\" calls, shared values) on every backend, plain and checked"
cargo run --profile test --no-default-features --features all-backends --example runtime
cargo run --profile test --no-default-features --features all-backends,checked --example runtime

# Miri interprets on one core for about 20 minutes. Installed and built here, it then
# runs in the background (a process group of its own) while the steps below, most of
# which use one core (fuzzing, Callgrind), use the other; its output is printed, and its
# result checked, at the end.
step "Miri (strict provenance) on every test that does not need May: installed and built, then run in the background (alone: bash scripts/miri.sh)"
bash scripts/miri.sh --no-run
miri_log=$(mktemp)
setsid bash scripts/miri.sh >"$miri_log" 2>&1 &
miri_pid=$!
# A step that fails stops the suite, and the background run with it.
trap 'kill -- "-$miri_pid" 2>/dev/null || true' EXIT

step "the runtime example and the guard against May's sleep race under AddressSanitizer (nightly)"
bash scripts/asan.sh

step "cargo-fuzz: every target for 20 s (installs nightly and cargo-fuzz if missing; longer: bash scripts/fuzz.sh SECONDS)"
bash scripts/fuzz.sh 20

step "mutation testing: this commit's share, about 4 mutants (the full run and samples: scripts/mutants.sh)"
bash scripts/mutants.sh share 4

step "stress: 100,000 strands and over 1,000,000 forced migrations per backend (release)"
cargo run --release -p strand-alloc-comparison -- stress

step "per-value benchmark, quick run: wall time and its ratios, shown beside the instruction counts (full run: scripts/bench.sh per-value)"
STRAND_ALLOC_BENCH_QUICK=1 cargo bench --features all-backends --bench per_value

step "runtime-facing path, quick run: Callgrind instruction counts and their targets (full run: scripts/bench.sh runtime-path)"
if ! command -v valgrind >/dev/null; then
    (apt-get update -qq && apt-get install -y -qq valgrind) || {
        echo "valgrind is missing and could not be installed (apt-get install valgrind)" >&2
        exit 1
    }
fi
STRAND_ALLOC_BENCH_QUICK=1 cargo bench --features all-backends --bench runtime_path

step "per value inside spawned strands, quick run: Callgrind ratios and the regression gate (benches/strand_path.ratios; full run: scripts/bench.sh strand-path)"
STRAND_ALLOC_BENCH_QUICK=1 cargo bench --features all-backends --bench strand_path

step "scopes, quick run: Callgrind counts and the empty scope's target of 40 instructions (full run: scripts/bench.sh scope)"
STRAND_ALLOC_BENCH_QUICK=1 cargo bench --features all-backends --bench scope

step "the comparison's mimalloc baseline (feature mimalloc): a quick run, every row measured"
cargo run --release -p strand-alloc-comparison --features mimalloc -- --quick --repeat 1 \
    --workload requests,handoff --backend global-malloc,global-malloc+mimalloc --json - \
    --no-progress | python3 -c '
import json, sys
doc = json.load(sys.stdin)
rows = {(r["workload"]["kind"], r["backend"]) for r in doc["rows"]}
assert not doc["failures"], doc["failures"]
assert ("handoff", "global-malloc+mimalloc") in rows and len(rows) == 4, rows
print("mimalloc baseline measured:", sorted(rows))'

step "features are additive: a program's backend is the one it names, whatever a sibling crate enables"
bash scripts/additive.sh

step "the declared minimum Rust version builds the library, with the committed lock (installs it with rustup if missing)"
bash scripts/msrv.sh

step "Miri's result (the run started above)"
if wait "$miri_pid"; then
    grep -E '^(     Running|test result)' "$miri_log"
    trap - EXIT
else
    cat "$miri_log"
    echo "Miri failed (its whole output is above)" >&2
    exit 1
fi

step "all checks passed"
