#!/usr/bin/env bash
# Security figures that are timings, so they are benchmarks, never default tests:
#
#   bench/security.sh            # both checks, about 2 minutes with the build done
#
# 1. Throttle cost per hit with 10 and with 1,000,000 keys held (examples/throttle_cost.rs):
#    the per-hit cost must not grow with the number of keys (target: ratio <= 2).
# 2. Reset and resend answer in the same time for a registered and an unknown address
#    (tests/attacks.rs, the ignored test): medians over 200 requests each within 10 %.
#
# Loopback only; everything it starts stops with it. Run by bench/run.sh at its end.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
say() { printf '[security] %s\n' "$*" >&2; }

say "throttle: per-hit cost with 10 and 1,000,000 keys (release build)"
cargo run --release --quiet --example throttle_cost

say "reset/resend timing: registered vs unknown address (200 requests each, paced)"
cargo test --quiet --test attacks reset_and_resend_timing_does_not_tell_who_is_registered \
    -- --ignored --nocapture 2>&1 | grep -E 'ms|test result|panicked'
