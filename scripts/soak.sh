#!/usr/bin/env bash
# Soak: the kill -9 crash-consistency test with many more trials than CI runs (default 500), optionally
# repeated. Not part of CI. Prints the seed of every round; replay one with RELIABILITY_SEED=<seed>.
#
#   scripts/soak.sh                 # 500 kill trials
#   TRIALS=2000 ROUNDS=3 scripts/soak.sh
#   RELIABILITY_SEED=1234 scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."

TRIALS="${TRIALS:-500}"
ROUNDS="${ROUNDS:-1}"
SCRATCH="${SCRATCH:-.build-soak}"
FILTER="${FILTER:-CrashConsistencyTests}"

swift build --build-tests --scratch-path "$SCRATCH"
for round in $(seq 1 "$ROUNDS"); do
    echo "== soak round $round/$ROUNDS: $TRIALS kill trials (filter $FILTER)"
    start=$(date +%s)
    RELIABILITY_KILL_TRIALS="$TRIALS" swift test --skip-build --scratch-path "$SCRATCH" --filter "$FILTER" 2>&1 \
        | tee "/tmp/export-cleanup-soak-$round.log" | grep -E '^\[reliability\] (CrashConsistency|one sweep)|✘|passed after|failed after'
    echo "== round $round took $(( $(date +%s) - start )) s; full log /tmp/export-cleanup-soak-$round.log"
done
