#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a while each and prints the
# executions per target. Usage:
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 60 s, all targets)
# Installs cargo-fuzz (cargo install --locked cargo-fuzz) when it is absent.
# cargo-fuzz needs nightly flags: the nightly toolchain when rustup has it,
# else the stable toolchain with RUSTC_BOOTSTRAP=1.
# Findings (crashes, timeouts, out-of-memory) land in fuzz/artifacts/<target>/;
# replay one with: cargo fuzz run <target> fuzz/artifacts/<target>/<file>
set -euo pipefail

cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install --locked cargo-fuzz
fi

toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi

cd fuzz
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo "${toolchain[@]}" fuzz list)
fi

# Release build with debug assertions and overflow checks (fuzz/Cargo.toml),
# address sanitizer on; built once for all targets.
cargo "${toolchain[@]}" fuzz build -O

summary=()
status=0
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "seeds/$target"
    log="$(mktemp)"
    echo "== $target: ${seconds}s" >&2
    # -rss_limit_mb / -malloc_limit_mb: an input that makes the process
    # allocate more than 512 MB (in total or at once) is a finding;
    # -timeout: one input running longer than 10 s is a hang.
    if cargo "${toolchain[@]}" fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1; then
        result="ok"
    else
        result="FINDING (see fuzz/artifacts/$target/)"
        status=1
        tail -40 "$log" >&2
    fi
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
    corpus="$(find "corpus/$target" -type f | wc -l)"
    summary+=("$(printf '%-22s %12s executions  %6s corpus  %s' "$target" "${runs:-?}" "$corpus" "$result")")
    rm -f "$log"
done

echo
echo "fuzzing summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit "$status"
