#!/usr/bin/env bash
# Runs every benchmark and prints the ratios the performance targets are judged by:
#   0. per value inside spawned strands, counted by Callgrind (benches/strand_path.rs:
#      each backend against raw bumpalo resetting at the same threshold and Box<str> on
#      glibc and mimalloc, spawn and join against May's; the production level of figures,
#      which a build with `full-figures` measures the full one of), and timed
#      (benches/per_value.rs, shown beside, never judged); `strand-path-mimalloc`: the
#      same built with mimalloc as the global allocator, global-malloc against Box<str>
#      on it;
#   1. criterion wall-clock benchmarks: allocation, bulk, reset and copy on send
#      (benches/alloc.rs), each backend against raw bumpalo, Box<str> and global-malloc;
#      spawn and join (benches/spawn.rs) against plain May;
#   2. the cost of `checked`: the same benchmark built without it (saved as criterion's
#      baseline `unchecked`) and then with it, which prints the ratios;
#   3. instruction counts under Callgrind (benches/instructions.rs, through gungraun), and
#      the runtime-facing path (benches/runtime_path.rs: extern "C" calls on one-word
#      handles against the seed's path, raw bumpalo, Box<str> and Arc);
#   4. the scale run: 100,000 live strands holding 1 KiB each, for every backend;
#   5. scopes, counted by Callgrind (benches/scope.rs): an empty scope entered and left
#      against its 40-instruction target, a value in a scope, an actor's message with and
#      without a scope.
# Installs valgrind (when run as root) and gungraun-runner when they are missing.
# Everything printed is also kept in target/bench/.
# Usage: bash scripts/bench.sh [strand-path|strand-path-mimalloc|per-value|runtime-path|scope|alloc|spawn|checked|instructions|scale ...]
set -euo pipefail
cd "$(dirname "$0")/.."

parts=("$@")
if [ ${#parts[@]} -eq 0 ]; then
    parts=(strand-path strand-path-mimalloc per-value runtime-path scope alloc spawn checked instructions scale)
fi
out=target/bench
mkdir -p "$out"
step() { printf '\n==> %s\n' "$*"; }

for part in "${parts[@]}"; do
    case "$part" in
    alloc)
        step "criterion: allocation, bulk, reset, copy on send"
        cargo bench --features all-backends --bench alloc | tee "$out/alloc.txt"
        ;;
    strand-path)
        step "per value inside spawned strands and spawn + join, counted by Callgrind: the targets' ratios"
        cargo bench --features all-backends --bench strand_path | tee "$out/strand_path.txt"
        ;;
    strand-path-mimalloc)
        step "per value inside spawned strands with mimalloc as the global allocator: global-malloc against Box<str> on it"
        RUSTFLAGS="${RUSTFLAGS:-} --cfg strand_alloc_bench_mimalloc" \
            CARGO_TARGET_DIR=target/mimalloc-global \
            cargo bench --features all-backends --bench strand_path | tee "$out/strand_path_mimalloc.txt"
        ;;
    scope)
        step "scopes inside spawned strands, counted by Callgrind: the empty scope's target"
        cargo bench --features all-backends --bench scope | tee "$out/scope.txt"
        ;;
    per-value)
        step "per value inside spawned strands, 10 MiB and 256 KiB: the targets' ratios"
        cargo bench --features all-backends --bench per_value | tee "$out/per_value.txt"
        ;;
    runtime-path)
        step "the runtime-facing path (extern \"C\" calls, one-word handles), counted by Callgrind"
        cargo bench --features all-backends --bench runtime_path | tee "$out/runtime_path.txt"
        ;;
    spawn)
        step "criterion: spawn and join"
        cargo bench --features all-backends --bench spawn | tee "$out/spawn.txt"
        ;;
    checked)
        step "criterion: without checked (baseline 'unchecked'), then with it"
        cargo bench --features all-backends --bench checked -- --save-baseline unchecked \
            | tee "$out/unchecked.txt"
        cargo bench --features all-backends,checked --bench checked | tee "$out/checked.txt"
        ;;
    instructions)
        step "instruction counts under Callgrind (gungraun)"
        if ! command -v valgrind >/dev/null; then
            if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
                apt-get install -y valgrind
            else
                echo "valgrind is missing: install it (apt-get install valgrind)" >&2
                exit 1
            fi
        fi
        version=$(cargo metadata --format-version 1 \
            | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "gungraun"))')
        if [ "$(gungraun-runner --version 2>/dev/null | awk '{print $2}')" != "$version" ]; then
            cargo install gungraun-runner --version "$version" --locked
        fi
        cargo bench --features all-backends --bench instructions | tee "$out/instructions.txt"
        ;;
    scale)
        step "scale: 100,000 live strands holding 1 KiB each"
        # Each live strand's stack takes two memory maps.
        need=262144
        have=$(cat /proc/sys/vm/max_map_count 2>/dev/null || echo "$need")
        if [ "$have" -lt "$need" ]; then
            if [ "$(id -u)" = 0 ] && sysctl -w vm.max_map_count="$need" >/dev/null 2>&1; then
                echo "raised vm.max_map_count from $have to $need"
            else
                echo "vm.max_map_count is $have; 100,000 strands need about 210,000:" >&2
                echo "run 'sudo sysctl -w vm.max_map_count=$need' first" >&2
                exit 1
            fi
        fi
        cargo run --release -p strand-alloc-comparison -- scale | tee "$out/scale.txt"
        ;;
    *)
        echo "unknown part '$part': expected alloc, spawn, checked, instructions or scale" >&2
        exit 2
        ;;
    esac
done
