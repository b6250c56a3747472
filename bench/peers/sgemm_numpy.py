"""The sgemm probe of the benchmark: how fast this CPU multiplies float32
matrices, with numpy's BLAS. Times `repeats` products of two n × n float32
matrices after one warm-up product and prints one JSON object: the best time
and its GFLOP/s (2 n³ FLOP per product). bench/run.ts turns it into the
"limit" ms/step of the report. Threads: BLAS's own default, or the
OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS that run.ts sets
for --threads."""
import argparse
import json
import os
import sys
import time

import numpy as np


def blas_name() -> str:
    try:
        blas = np.__config__.CONFIG['Build Dependencies']['blas']
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 — older numpy: no CONFIG dict
        return 'unknown BLAS'


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--n', type=int, default=2048)
    p.add_argument('--repeats', type=int, default=5)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((args.n, args.n), dtype=np.float32)
    b = rng.standard_normal((args.n, args.n), dtype=np.float32)
    a @ b  # warm-up: BLAS starts its threads
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    best = min(times)
    threads = next((os.environ[k] for k in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS')
                    if os.environ.get(k)), None)
    json.dump({
        'probe': 'numpy',
        'library': f'numpy {np.__version__} ({blas_name()})',
        'n': args.n,
        'repeats': args.repeats,
        'seconds': times,
        'bestSeconds': best,
        'gflops': 2 * args.n ** 3 / best / 1e9,
        'threads': int(threads) if threads else None,
    }, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
