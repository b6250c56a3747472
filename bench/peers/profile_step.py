"""Where a training step's time goes: the TF1 peer's step (tf1_crnn.py) and,
given the folder that `node dist/bench/step-graph.js DIR` writes, the graph
engine's step (the project's own graph, loaded from its SavedModel), each
traced with TensorFlow's step stats (RunOptions FULL_TRACE), their ops' times
summed by op type over a few traced steps after warm-up, side by side.

    bench/.venv/bin/python bench/peers/profile_step.py [--graph DIR] [--steps 20] [--batch-size 128]

Both steps run on the same random batch; the graph engine's weights are drawn
at random through its `assign` signature (values do not change op times).
"""
import argparse
import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import IMAGE_SIZE, NUM_CLASSES  # noqa: E402
from tf1_crnn import Tf1Trainer, v1  # noqa: E402


def op_times(session, fetches, feed, steps: int) -> dict[str, float]:
    """Milliseconds per step by op type, summed over threads, after 10 untimed steps."""
    for _ in range(10):
        session.run(fetches, feed)
    by_op: dict[str, float] = collections.defaultdict(float)
    for _ in range(steps):
        metadata = v1.RunMetadata()
        session.run(fetches, feed, options=v1.RunOptions(trace_level=v1.RunOptions.FULL_TRACE),
                    run_metadata=metadata)
        for device in metadata.step_stats.dev_stats:
            for node in device.node_stats:
                op = node.timeline_label.split('(')[0].split(' = ')[-1].strip() or node.node_name
                by_op[op] += node.all_end_rel_micros / 1000 / steps
    return by_op


def tf1_times(xs, ys, steps: int) -> dict[str, float]:
    trainer = Tf1Trainer(xs.shape[1], False, 0, 1)
    # The TF1 peer takes the batch time-major.
    return op_times(trainer.session, [trainer.loss, trainer.train_op],
                    {trainer.xs: xs.swapaxes(0, 1), trainer.ys: ys}, steps)


def graph_times(folder: str, xs, ys, steps: int) -> dict[str, float]:
    with open(os.path.join(folder, 'step-graph.json')) as f:
        info = json.load(f)
    graph = tf.Graph()
    session = v1.Session(graph=graph)
    with graph.as_default():
        v1.saved_model.loader.load(session, ['serve'], folder)
    tensor = graph.get_tensor_by_name
    name = lambda ref: ref if ':' in ref else f'{ref}:0'  # noqa: E731
    rng = np.random.default_rng(2)
    assign = info['signatures']['assign']
    # Weights ~ N(0, 0.05²), Adam's first moments 0, second moments small and positive.
    values = {key: (np.zeros(shape) if key.startswith('m') else
                    np.full(shape, 1e-6) if key.startswith('v') else
                    0.05 * rng.standard_normal(shape)).astype(np.float32)
              for key, shape in info['assign'].items()}
    session.run(tensor(name(assign['outputs']['assigned'])),
                {tensor(name(assign['inputs'][key])): value for key, value in values.items()})
    train = info['signatures']['train']
    feed = {tensor(name(train['inputs']['xs'])): xs, tensor(name(train['inputs']['ys'])): ys,
            tensor(name(train['inputs']['learning_rate'])): np.float32(1e-3),
            # beta1_power, beta2_power, beta1, beta2, epsilon (ADAM_INPUTS in lib/graph/build.ts).
            tensor(name(train['inputs']['adam'])): np.array([0.9, 0.999, 0.9, 0.999, 1e-7], np.float32)}
    return op_times(session, tensor(name(train['outputs']['loss_accuracy_rate'])), feed, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--graph', help="the graph engine's step, as node dist/bench/step-graph.js writes it")
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--seq-length', type=int, default=2)
    parser.add_argument('--top', type=int, default=15)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    xs = rng.random((args.batch_size, args.seq_length, IMAGE_SIZE, IMAGE_SIZE, 1), dtype=np.float32)
    ys = np.eye(NUM_CLASSES, dtype=np.float32)[rng.integers(0, NUM_CLASSES, args.batch_size)]
    columns = {'tf1': tf1_times(xs, ys, args.steps)}
    if args.graph:
        columns['graph engine'] = graph_times(args.graph, xs, ys, args.steps)
    totals = {peer: sum(times.values()) for peer, times in columns.items()}
    ops = sorted({op for times in columns.values() for op in times},
                 key=lambda op: -max(times.get(op, 0) for times in columns.values()))
    print(f'TensorFlow {tf.__version__}, oneDNN setting {os.environ.get("TF_ENABLE_ONEDNN_OPTS")}, '
          f'batch {args.batch_size}, T = {args.seq_length}, per-step CNNs: op time summed over threads, '
          f'ms per step (traced steps: {args.steps})')
    print('| op | ' + ' | '.join(f'{peer}: ms/step | share' for peer in columns) + ' |')
    print('| --- |' + ' ---: | ---: |' * len(columns))
    cell = lambda peer, op: (f'{columns[peer][op]:.2f} | {100 * columns[peer][op] / totals[peer]:.1f}%'  # noqa: E731
                             if op in columns[peer] else '– | –')
    for op in ops[:args.top]:
        print(f'| {op} | ' + ' | '.join(cell(peer, op) for peer in columns) + ' |')
    rest = ops[args.top:]
    print('| the other ops | ' + ' | '.join(
        f'{sum(columns[p].get(op, 0) for op in rest):.2f} | {100 * sum(columns[p].get(op, 0) for op in rest) / totals[p]:.1f}%'
        for p in columns) + ' |')
    print('| all ops | ' + ' | '.join(f'{totals[p]:.2f} | 100%' for p in columns) + ' |')


if __name__ == '__main__':
    main()
