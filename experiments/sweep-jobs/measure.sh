#!/usr/bin/env bash
# Wall time of one sweep of 4 runs (the fast preset, 200 steps, seeds 1-4)
# trained one at a time (--jobs 1) and two at once (--jobs 2), in
# alternating rounds so that a change in the machine's load hits both.
# Writes round-N/jobs-J/ (each run's run.json and log), round-N/jobs-J.log
# (the sweep's output) and timings.txt here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
rounds=${ROUNDS:-2}
{
  echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
  for round in $(seq 1 "$rounds"); do
    for jobs in 1 2; do
      root="$here/round-$round/jobs-$jobs"
      rm -rf "$root"
      mkdir -p "$here/round-$round"
      load=$(cut -d' ' -f1 /proc/loadavg)
      start=$(date +%s%N)
      node dist/bin/sweep.js --preset fast --set numSteps=200 --set evalEvery=100 --seeds 4 \
        --root "$root" --jobs "$jobs" 2> "$root.log" || { echo "sweep failed: see $root.log"; exit 1; }
      ms=$(( ($(date +%s%N) - start) / 1000000 ))
      echo "round $round, --jobs $jobs: $((ms / 1000)).$(( (ms % 1000) / 100 )) s (load average before: $load)"
    done
  done
} | tee "$here/timings.txt"
