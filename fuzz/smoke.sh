#!/usr/bin/env bash
# Builds every fuzz target and runs each for a while; exits non-zero if any target crashes.
#
#   fuzz/smoke.sh [SECONDS] [TARGET...]      default: 20 seconds, every target
#
# New corpus entries go to fuzz/corpus/<target> (git-ignored); fuzz/seeds/<target> is read as
# well. A crash leaves its input in fuzz/artifacts/<target>/ and prints it.
set -euo pipefail

cd "$(dirname "$0")"
seconds="${1:-20}"
if [ "$#" -gt 0 ]; then shift; fi
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(envelope decode auth event)
fi

# cargo-fuzz passes -Z flags (sanitizers, coverage); the pinned stable toolchain accepts them
# with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

echo "== building ${targets[*]}"
for target in "${targets[@]}"; do
    cargo fuzz build "$target"
done

failed=()
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    corpora=("corpus/$target")
    if [ -d "seeds/$target" ]; then
        corpora+=("seeds/$target")
    fi
    echo "== $target for ${seconds}s"
    if ! cargo fuzz run "$target" "${corpora[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; then
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "FAILED: ${failed[*]} (crashing inputs under fuzz/artifacts/)" >&2
    exit 1
fi
echo "OK: ${targets[*]} ran ${seconds}s each without a crash"
