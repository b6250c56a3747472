#!/usr/bin/env bash
# Whole training runs, before and after: `npm run train` of the default (the
# article's setup) and of the `best` preset, each under /usr/bin/time for its
# wall time, CPU time and peak RSS, plus the default with a single evaluation
# at the end, so that the share of a default run spent evaluating is
# measured the same way for any commit (1 - that run's time / the default's).
#
#   bash bench/train-runs.sh BEFORE_DIR AFTER_DIR OUT_DIR
#
# BEFORE_DIR and AFTER_DIR are built checkouts (npm run build); the runs
# alternate between them to spread the machine's drift over both. RUNS picks
# some of them (default: "default default-one-eval best best-preset"). `best`
# trains the `best` preset's model and data on both sides from explicit flags,
# with the cosine schedule that both know, so that the same work is timed;
# `best-preset` is `--preset best` as each commit defines it.
set -euo pipefail
before=$(cd "$1" && pwd); after=$(cd "$2" && pwd); out=$3
mkdir -p "$out"; out=$(cd "$out" && pwd)
[ -s "$out/runs.tsv" ] ||
  printf 'side\trun\twall_s\tcpu_s\tpeak_rss_mib\tcommit\n' >"$out/runs.tsv"

{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p') x$(nproc), $(grep -o -w -E 'avx2|fma|avx512f|avx512_vnni|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  echo "before: $(git -C "$before" rev-parse --short HEAD), after: $(git -C "$after" rev-parse --short HEAD)"
} >>"$out/README.txt"

one() { # side dir name args...
  local side=$1 dir=$2 name=$3; shift 3
  local log="$out/$side-$name.log"
  echo "== $side $name: $*" >&2
  (cd "$dir" && TF_CPP_MIN_LOG_LEVEL=2 /usr/bin/time -f 'TIME %e %U %S %M' \
    node dist/bin/train.js --out "$out/runs/$side-$name" "$@") >"$log" 2>&1
  read -r wall user sys rss < <(sed -n 's/^TIME //p' "$log" | tail -1)
  printf '%s\t%s\t%s\t%.1f\t%.0f\t%s\n' "$side" "$name" "$wall" "$(echo "$user + $sys" | bc)" \
    "$(echo "$rss / 1024" | bc -l)" "$(git -C "$dir" rev-parse --short HEAD)" >>"$out/runs.tsv"
  tail -4 "$log" >&2
}

best=(--shared-cnn --filters 32,32 --kernel-size 5 --batch-norm --dropout 0.1 --weight-decay 1e-4
  --augment-shift 2 --augment-rotation 10 --label-smoothing 0.1 --steps 6000 --learning-rate 3e-3
  --lr-schedule cosine --eval-every 1000)
order=(before after)
for run in ${RUNS:-default default-one-eval best best-preset}; do
  case $run in
    default) args=() ;;
    default-one-eval) args=(--eval-every 10000) ;;
    best) args=("${best[@]}") ;;
    best-preset) args=(--preset best) ;;
    *) echo "unknown run $run" >&2; exit 2 ;;
  esac
  for side in "${order[@]}"; do
    dir=$before; [ $side = after ] && dir=$after
    one $side "$dir" $run ${args[@]+"${args[@]}"}
  done
  order=("${order[1]}" "${order[0]}")
done
rm -rf "$out/runs/"*/model "$out/runs/"*/checkpoint 2>/dev/null || true
column -t -s $'\t' "$out/runs.tsv"
