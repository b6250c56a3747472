"""Before/after rounds of the main comparison, summed up: reads DIR/before-N
and DIR/after-N (each a `npm run bench` results folder: the tfjs-node peer of
the commit before, then tfjs-node and tf1 of the commit after, run one after
the other so that each round sees the machine in one state) and prints a
markdown table, a row per round and the medians.

    python3 bench/rounds.py bench/results/amd-epyc-avx2
"""
import json
import os
import statistics
import sys

# 10.78 MFLOP per training sample (bench/flops.ts) × batch 128.
STEP_FLOP = 10.78e6 * 128


def report(results: dict, peer: str) -> dict:
    return next(run['report'] for run in results['runs'] if run['peer'] == peer and run['report'] is not None)


def main(folder: str) -> None:
    rows = []
    for n in range(1, 100):
        paths = [os.path.join(folder, f'{side}-{n}', 'results.json') for side in ('before', 'after')]
        if not all(os.path.exists(p) for p in paths):
            break
        before, after = (json.load(open(p)) for p in paths)
        gflops = after['sgemm']['report']['gflops']
        b, a, t = report(before, 'tfjs-node'), report(after, 'tfjs-node'), report(after, 'tf1')
        ms = lambda r: r['msPerStep']['median']  # noqa: E731
        limit = STEP_FLOP / (gflops * 1e9) * 1000
        rows.append({
            'gflops': gflops, 'limit': limit, 'before': ms(b), 'after': ms(a), 'tf1': ms(t),
            'spread': {k: (r['msPerStep']['min'], r['msPerStep']['max']) for k, r in (('before', b), ('after', a), ('tf1', t))},
            'vsTf1': ms(t) / ms(a), 'vsBefore': ms(b) / ms(a),
            'beforeShare': limit / ms(b), 'share': limit / ms(a), 'tf1Share': limit / ms(t),
            'cpu': [r['cpuMsPerStep']['median'] for r in (b, a, t)], 'rss': [r['peakRssMb'] for r in (b, a, t)],
        })
    if not rows:
        sys.exit(f'no before-1/after-1 results in {folder}')
    print('| round | sgemm GFLOP/s (limit ms/step) | before: ms/step (min–max) | after: ms/step (min–max) | '
          'TF1: ms/step (min–max) | after vs TF1, samples/s | after vs before | share of the limit, before / after / TF1 | '
          'CPU ms/step, before / after / TF1 | peak RSS MB, before / after / TF1 |')
    print('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    spread = lambda row, k: f"{row[k]:.1f} ({row['spread'][k][0]:.1f}–{row['spread'][k][1]:.1f})"  # noqa: E731
    for n, row in enumerate(rows, 1):
        print(f"| {n} | {row['gflops']:.1f} ({row['limit']:.1f}) | {spread(row, 'before')} | {spread(row, 'after')} | "
              f"{spread(row, 'tf1')} | {row['vsTf1']:.2f}× | {row['vsBefore']:.2f}× | "
              f"{100 * row['beforeShare']:.1f}% / {100 * row['share']:.1f}% / {100 * row['tf1Share']:.1f}% | "
              f"{' / '.join(f'{x:.1f}' for x in row['cpu'])} | {' / '.join(f'{x:.0f}' for x in row['rss'])} |")
    med = lambda key, k=None: statistics.median(r[key] if k is None else r[key][k] for r in rows)  # noqa: E731
    cpu = ' / '.join(f"{med('cpu', k):.1f}" for k in range(3))
    rss = ' / '.join(f"{med('rss', k):.0f}" for k in range(3))
    print(f"| median | {med('gflops'):.1f} ({med('limit'):.1f}) | {med('before'):.1f} | {med('after'):.1f} | {med('tf1'):.1f} | "
          f"{med('vsTf1'):.2f}× | {med('vsBefore'):.2f}× | "
          f"{100 * med('beforeShare'):.1f}% / {100 * med('share'):.1f}% / {100 * med('tf1Share'):.1f}% | "
          f"{cpu} | {rss} |")


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else 'bench/results/amd-epyc-avx2')
