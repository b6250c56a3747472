"""Where a training step's time goes: the TF1 peer's step (tf1_crnn.py) traced
with TensorFlow's step stats (RunOptions FULL_TRACE), its ops' times summed by
op type, over a few traced steps after warm-up. The graph engine runs the same
TensorFlow kernels, so the shares describe both.

    bench/.venv/bin/python bench/peers/profile_tf1.py [--steps 20] [--batch-size 128]
"""
import argparse
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import IMAGE_SIZE, NUM_CLASSES  # noqa: E402
from tf1_crnn import Tf1Trainer, v1  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--seq-length', type=int, default=2)
    args = parser.parse_args()
    trainer = Tf1Trainer(args.seq_length, False, 0, 1)
    rng = np.random.default_rng(1)
    xs = rng.random((args.batch_size, args.seq_length, IMAGE_SIZE, IMAGE_SIZE, 1), dtype=np.float32).swapaxes(0, 1)
    ys = np.eye(NUM_CLASSES, dtype=np.float32)[rng.integers(0, NUM_CLASSES, args.batch_size)]
    fetches = [trainer.loss, trainer.train_op]
    feed = {trainer.xs: xs, trainer.ys: ys}
    for _ in range(10):
        trainer.session.run(fetches, feed)
    by_op: dict[str, float] = collections.defaultdict(float)
    for _ in range(args.steps):
        metadata = v1.RunMetadata()
        trainer.session.run(fetches, feed, options=v1.RunOptions(trace_level=v1.RunOptions.FULL_TRACE),
                            run_metadata=metadata)
        for device in metadata.step_stats.dev_stats:
            for node in device.node_stats:
                op = node.timeline_label.split('(')[0].split(' = ')[-1].strip() or node.node_name
                by_op[op] += (node.all_end_rel_micros) / 1000 / args.steps
    total = sum(by_op.values())
    print(f'TensorFlow {tf.__version__}, oneDNN setting {os.environ.get("TF_ENABLE_ONEDNN_OPTS")}, '
          f'batch {args.batch_size}, T = {args.seq_length}: op time summed over threads, ms per step '
          f'(traced steps: {args.steps})')
    print('| op | ms/step | share |\n| --- | ---: | ---: |')
    for op, ms in sorted(by_op.items(), key=lambda kv: -kv[1])[:15]:
        print(f'| {op} | {ms:.2f} | {100 * ms / total:.1f}% |')
    print(f'| all ops | {total:.2f} | 100% |')


if __name__ == '__main__':
    main()
