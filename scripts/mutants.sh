#!/usr/bin/env bash
# Mutation testing of the library with cargo-mutants: every mutant of src/ and backends/
# (the comparison command, a package of its own, excepted), built with every backend, the seed policy
# (so `checked` too) and `serde` (so that every line of the library is compiled), tested
# by the library's unit and integration tests. Prints
# the score (caught / viable) and every survivor. Installs cargo-mutants when missing.
#
# Usage:
#   bash scripts/mutants.sh full              every mutant (about 1,200: hours on 2 cores)
#   bash scripts/mutants.sh sample N [SEED]   a random sample of N mutants (the known
#                                             survivors excepted); the seed is
#                                             printed (default: the current time)
#   bash scripts/mutants.sh share N           the suite's share: about N mutants, one
#                                             round-robin shard picked by the commit
#                                             (HEAD), so every commit tests a different few
#   bash scripts/mutants.sh list              list the mutants and count them per file
#   bash scripts/mutants.sh retest FILE       the mutants named in FILE (a missed.txt from
#                                             an earlier run), found by file and
#                                             description whatever their line now
#
# Output (cargo-mutants' own files, caught.txt, missed.txt, ...) goes to
# target/mutants/<mode>/mutants.out. With STRAND_ALLOC_MUTANTS_STRICT=1 a survivor that is
# not a known one makes the script fail; without it the script reports the score and the
# survivors. Known survivors are listed in scripts/mutants-known.txt, as "file:
# description" without line numbers, each with its reason in docs/SAFETY.md (equivalent
# mutants, or a difference in speed only).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-mutants >/dev/null 2>&1; then
    cargo install cargo-mutants --locked
fi

mode="${1:-}"
features=(--no-default-features --features all-backends,seed-arena,serde,full-figures)
# The library alone: the comparison command is a package of its own.
scope=(--package strand-alloc)
# The library's tests: unit and integration tests, no doctests, benches or examples
# (the comparison command's tests belong to its own package).
test_args=(--cargo-arg=--lib --cargo-arg=--tests)

names() {
    cargo mutants --list "${features[@]}" "${scope[@]}" 2>/dev/null
}

# An anchored regex that matches exactly the given mutant names (one per line on stdin).
regex_of() {
    python3 -c '
import re, sys
names = [l.rstrip("\n") for l in sys.stdin if l.strip()]
print("^(" + "|".join(re.escape(n) for n in names) + ")$")'
}

# The mutants a sample is drawn from: every mutant but the known survivors
# (scripts/mutants-known.txt), which no test can observe, each for the reason docs/SAFETY.md
# gives, and those of src/checked/unchecked.rs, which this build (with `checked`, as the
# seed backend needs) compiles out: its stand-ins are exercised by every test of a default
# build. A sample so measures the tests on mutants a test could catch; the known ones are
# re-tested by `retest`, which runs every mutant of their description.
population() {
    names | python3 -c '
import re, sys
known = {l.strip() for l in open("scripts/mutants-known.txt") if l.strip() and not l.startswith("#")}
for l in sys.stdin:
    l = l.rstrip("\n")
    if not l or l.startswith("src/checked/unchecked.rs:"):
        continue
    if re.sub(r"^([^:]*):[0-9]+:[0-9]+: ", r"\1: ", l) not in known:
        print(l)'
}

pick() { # N SEED: a seeded random sample of the mutant names
    population | python3 -c '
import random, sys
n, seed = int(sys.argv[1]), int(sys.argv[2])
names = [l.rstrip("\n") for l in sys.stdin if l.strip()]
for name in sorted(random.Random(seed).sample(names, min(n, len(names)))):
    print(name)' "$1" "$2"
}

run() { # OUT-DIR [cargo-mutants args...]
    local out="$1"
    shift
    mkdir -p "$out"
    local status=0
    cargo mutants "${features[@]}" "${scope[@]}" "${test_args[@]}" -o "$out" \
        --no-shuffle "$@" || status=$?
    # cargo-mutants exits 2 when a mutant survived, 3 on timeouts: the score says it all.
    local dir="$out/mutants.out"
    local caught missed timeout unviable
    caught=$(wc -l <"$dir/caught.txt" 2>/dev/null || echo 0)
    missed=$(wc -l <"$dir/missed.txt" 2>/dev/null || echo 0)
    timeout=$(wc -l <"$dir/timeout.txt" 2>/dev/null || echo 0)
    unviable=$(wc -l <"$dir/unviable.txt" 2>/dev/null || echo 0)
    local viable=$((caught + missed + timeout))
    echo
    echo "mutants: $viable viable ($unviable unviable): $caught caught, $timeout timed out (counted as caught), $missed survived"
    if [ "$viable" -gt 0 ]; then
        python3 -c "print(f'score: {($caught + $timeout) / $viable:.1%} of viable mutants caught')"
    fi
    if [ "$missed" -gt 0 ]; then
        echo "survivors:"
        sed 's/^/  /' "$dir/missed.txt"
    fi
    case "$status" in
        0 | 2 | 3) ;;
        *) echo "cargo-mutants failed with status $status" >&2; exit "$status" ;;
    esac
    if [ "$missed" -gt 0 ] && [ "${STRAND_ALLOC_MUTANTS_STRICT:-0}" = 1 ]; then
        local unknown
        unknown=$(sed 's/^\([^:]*\):[0-9]*:[0-9]*: /\1: /' "$dir/missed.txt" |
            grep -vxF -f <(grep -v '^#' scripts/mutants-known.txt) || true)
        if [ -n "$unknown" ]; then
            echo "survivors that are not known (a test should catch them, or docs/SAFETY.md"
            echo "should say why they cannot be observed and scripts/mutants-known.txt list them):"
            echo "$unknown" | sed 's/^/  /'
            exit 2
        fi
        echo "every survivor is a known one (scripts/mutants-known.txt)"
    fi
}

case "$mode" in
    list)
        names | cut -d: -f1 | sort | uniq -c
        echo "total: $(names | wc -l), of which $(population | wc -l) outside the known survivors"
        ;;
    full)
        run target/mutants/full
        ;;
    sample)
        n="${2:?usage: mutants.sh sample N [SEED]}"
        seed="${3:-$(date +%s)}"
        echo "mutation sample: $n mutants, seed $seed (repeat with: bash scripts/mutants.sh sample $n $seed)"
        # cargo-mutants 27 applies no name filter (--re, -E) to its struct-field mutants
        # ("delete field ... from struct ... expression"), so every sample runs those
        # too, on top of the N chosen.
        re=$(pick "$n" "$seed" | regex_of)
        run "target/mutants/sample-$seed" --re "$re"
        ;;
    share)
        n="${2:?usage: mutants.sh share N}"
        commit=$(git rev-parse --short=8 HEAD 2>/dev/null || echo 0)
        total=$(names | wc -l)
        shards=$(((total + n - 1) / n))
        k=$((16#${commit:0:8} % shards))
        echo "mutation share of commit $commit: shard $k of $shards, about $n of $total mutants, spread over every file"
        # Shards (not a name filter: see `sample`) select exactly their share. The suite
        # has just run the tests on the unmutated tree: no baseline run.
        run "target/mutants/share" --shard "$k/$shards" --sharding round-robin \
            --baseline skip --timeout 300 --build-timeout 900
        ;;
    retest)
        # Mutants named in a file (cargo-mutants' missed.txt, say), found again by file
        # and description: line numbers move as the code changes.
        list="${2:?usage: mutants.sh retest FILE}"
        re=$(sed 's/^\([^:]*\):[0-9]*:[0-9]*: /\1: /' "$list" | sort -u | python3 -c '
import re, sys
names = [l.rstrip("\n") for l in sys.stdin if l.strip()]
parts = []
for n in names:
    f, d = n.split(": ", 1)
    parts.append(re.escape(f) + r":[0-9]+:[0-9]+: " + re.escape(d))
print("^(" + "|".join(parts) + ")$")')
        echo "re-testing the mutants named in $list"
        run "target/mutants/retest" --re "$re"
        ;;
    *)
        sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'
        exit 64
        ;;
esac
