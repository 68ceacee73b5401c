#!/usr/bin/env bash
# Runs a command while busy loops keep every core at 100%, to show that the test suite does not
# depend on an idle machine: `scripts/with-busy-cores.sh pnpm test` (BUSY_LOOPS=N to choose how
# many loops; default one per core). The loops stop when the command does, whatever its outcome.
set -euo pipefail
if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARG...]" >&2
  exit 2
fi
loops=${BUSY_LOOPS:-$(nproc)}
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for _ in $(seq "$loops"); do
  node -e 'for (;;) {}' &
  pids+=($!)
done
echo "with-busy-cores: $loops busy loop(s) running" >&2
"$@"
