#!/usr/bin/env python3
"""Execute the tutorial notebooks headless on the tslab (TypeScript) kernel.

Each notebook runs top to bottom in a fresh kernel whose working directory is
notebooks/, as in JupyterLab. The run fails when a cell raises or prints an
error. Options:

  --small        a quick configuration (few training steps, small evaluation
                 set), passed to the notebooks as CRNN_* environment variables;
                 values already set (non-empty) in the environment win. Unless CRNN_RUN_DIR
                 is set, notebook 3 saves its small model into a temporary
                 folder (removed afterwards), never over ../runs/notebook-model.
  --write        save the executed notebooks in place, with volatile metadata
                 (timings, kernel versions) removed, consecutive prints merged
                 and the executed cells numbered 1, 2, 3, … in order, so that a
                 re-run changes only what really changed.
  --output-dir D save the executed notebooks into D instead (same clean-up).
  --rerun-check  after a notebook has run, execute its cells tagged
                 `rerun-check` (the training cell) once more and compare
                 tf.memory().numTensors before and after: re-running a cell
                 must not leak tensors.
  --report FILE  write a JSON summary (outputs per cell, timings, tensor
                 counts) for the tests.

Needs: the Python packages of requirements-notebooks.txt (jupyter_client,
nbclient, nbformat), `npm install` (tslab in node_modules) and `npm run build`
(the notebooks import the compiled library from dist/). The tslab kernel spec
is installed into this Python environment when it is missing.

Usage: .venv/bin/python scripts/run-notebooks.py [--small] [--write] [notebooks/01-data-sampling.ipynb ...]
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / 'notebooks'
NODE_BIN = ROOT / 'node_modules' / '.bin'
KERNEL_NAME = 'tslab'

# Small enough for a 2-core CI machine, large enough to exercise every cell.
SMALL_CONFIG = {
    'CRNN_STEPS': '40',
    'CRNN_BATCH_SIZE': '32',
    'CRNN_EVAL_EVERY': '20',
    'CRNN_EVAL_SIZE': '256',
    'CRNN_PREDICT_SIZE': '500',
}

RERUN_TAG = 'rerun-check'
TENSOR_MARKER = 'CRNN_NUM_TENSORS'
# An ad-hoc cell (never saved) that reads the tensor count in the notebook's kernel.
TENSOR_PROBE = (
    "console.log('%s ' + require('../dist/lib/tf').tf.memory().numTensors);" % TENSOR_MARKER
)


def fail(message: str) -> None:
    print(f'run-notebooks: {message}', file=sys.stderr)
    sys.exit(2)


def import_jupyter():
    try:
        import nbformat  # noqa: F401
        from nbclient import NotebookClient  # noqa: F401
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel  # noqa: F401
    except ImportError as err:
        fail(f'missing Python package ({err}); install the notebook tools with\n'
             '  python3 -m venv .venv && .venv/bin/pip install -r requirements-notebooks.txt\n'
             'and run this script with .venv/bin/python')


def ensure_kernel() -> None:
    """Installs the tslab kernel spec into this Python's prefix if it is missing."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    tslab = NODE_BIN / 'tslab'
    if not tslab.exists():
        fail(f'{tslab} not found: run `npm install` first')
    if not (ROOT / 'dist' / 'lib' / 'index.js').exists():
        fail('dist/lib is missing: run `npm run build` first (the notebooks import the compiled library)')
    try:
        KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        return
    except NoSuchKernel:
        pass
    print(f'run-notebooks: installing the {KERNEL_NAME} kernel spec into {sys.prefix}', file=sys.stderr)
    subprocess.run([str(tslab), 'install', f'--python={sys.executable}', '--sys-prefix'], check=True,
                   stdout=subprocess.DEVNULL)
    KernelSpecManager().get_kernel_spec(KERNEL_NAME)


def output_text(output) -> str:
    if output.get('output_type') == 'stream':
        text = output.get('text', '')
        return ''.join(text) if isinstance(text, list) else text
    if output.get('output_type') == 'error':
        return f"{output.get('ename')}: {output.get('evalue')}"
    data = output.get('data', {})
    text = data.get('text/plain', '')
    return ''.join(text) if isinstance(text, list) else text


def error_outputs(cell) -> list[str]:
    """Error outputs of a cell: raised errors and anything printed to stderr."""
    errors = []
    for output in cell.get('outputs', []):
        if output.get('output_type') == 'error':
            errors.append(output_text(output))
        elif output.get('output_type') == 'stream' and output.get('name') == 'stderr':
            errors.append('stderr: ' + output_text(output).strip())
    return errors


def coalesce_streams(outputs: list) -> list:
    """Merges consecutive prints to the same stream into one output, as a reader sees them."""
    import nbformat
    merged: list = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.get('output_type') == 'stream' and previous is not None
                and previous.get('output_type') == 'stream' and previous.get('name') == output.get('name')):
            merged[-1] = nbformat.from_dict(dict(previous, text=output_text(previous) + output_text(output)))
        else:
            merged.append(output)
    return merged


def strip_volatile(nb) -> None:
    """Removes what changes on every run without changing what the notebook shows."""
    for cell in nb.cells:
        cell.metadata.pop('execution', None)
        cell.metadata.pop('collapsed', None)
        cell.metadata.pop('scrolled', None)
        if cell.cell_type == 'code':
            cell.outputs = coalesce_streams(cell.outputs)
        for output in cell.get('outputs', []):
            output.pop('transient', None)
    nb.metadata.pop('widgets', None)
    nb.metadata['kernelspec'] = {'display_name': 'TypeScript', 'language': 'typescript', 'name': KERNEL_NAME}
    nb.metadata['language_info'] = {
        'name': 'typescript', 'file_extension': '.ts', 'mimetype': 'text/typescript',
        'codemirror_mode': {'name': 'javascript', 'typescript': True},
    }


def number_cells(nb, executed: list[int]) -> None:
    """Numbers the executed code cells 1, 2, 3, … in the order they ran, as a
    Run All in JupyterLab would (tslab's replies carry no count); cells that did
    not run (after a failure) keep none."""
    counts = {index: n for n, index in enumerate(executed, start=1)}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != 'code':
            continue
        cell.execution_count = counts.get(index)
        for output in cell.outputs:
            if output.get('output_type') == 'execute_result':
                output['execution_count'] = counts.get(index)


def cell_summary(index: int, cell) -> dict:
    outputs = []
    for output in coalesce_streams(cell.get('outputs', [])):
        kind = output.get('output_type')
        entry = {'type': kind}
        if kind in ('display_data', 'execute_result'):
            entry['mime'] = sorted(output.get('data', {}).keys())
            entry['bytes'] = sum(len(v) if isinstance(v, str) else len(''.join(v)) for v in output['data'].values())
        else:
            entry['text'] = output_text(output)
            if kind == 'stream':
                entry['name'] = output.get('name')
        outputs.append(entry)
    return {'index': index, 'tags': list(cell.get('metadata', {}).get('tags', [])), 'outputs': outputs}


def run_probe(client, nb) -> int:
    """Reads tf.memory().numTensors in the running kernel through a temporary cell."""
    import nbformat
    probe = nbformat.v4.new_code_cell(TENSOR_PROBE)
    # nbclient stores each executed cell back at its index: give the probe one, then drop it.
    nb.cells.append(probe)
    try:
        client.execute_cell(probe, len(nb.cells) - 1)
    finally:
        nb.cells.pop()
    for output in probe.outputs:
        for line in output_text(output).splitlines():
            if line.startswith(TENSOR_MARKER + ' '):
                return int(line.split()[1])
    raise RuntimeError(f'the tensor probe printed no {TENSOR_MARKER} line: {probe.outputs}')


def execute(path: Path, timeout: int, rerun_check: bool) -> tuple[object, dict]:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, kernel_name=KERNEL_NAME, timeout=timeout, allow_errors=False, record_timing=False,
        resources={'metadata': {'path': str(path.parent)}},
    )
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    report: dict = {'notebook': str(shown), 'errors': []}
    executed: list[int] = []
    start = time.monotonic()
    try:
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == 'code':
                    executed.append(index)
                client.execute_cell(cell, index)
            if rerun_check:
                tagged = [i for i, c in enumerate(nb.cells) if RERUN_TAG in c.metadata.get('tags', [])]
                if tagged:
                    before = run_probe(client, nb)
                    # The saved notebook keeps the first run's outputs: nbclient writes a
                    # re-run's outputs (and in-place display updates) into the notebook's
                    # cells, so snapshot them and put the snapshots back afterwards.
                    originals = {i: copy.deepcopy(nb.cells[i]) for i in tagged}
                    for index in tagged:
                        client.execute_cell(copy.deepcopy(originals[index]), index)
                    for index, cell in originals.items():
                        nb.cells[index] = cell
                    after = run_probe(client, nb)
                    report['rerun'] = {'cells': tagged, 'tensorsBefore': before, 'tensorsAfter': after}
                    if after != before:
                        report['errors'].append(
                            f're-running cells {tagged} changed tf.memory().numTensors from {before} to {after}')
    except CellExecutionError as err:
        report['errors'].append(str(err).strip().splitlines()[-1] if str(err).strip() else repr(err))
    report['seconds'] = round(time.monotonic() - start, 1)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == 'code':
            report['errors'].extend(f'cell {index}: {e}' for e in error_outputs(cell))
    report['cells'] = [cell_summary(i, c) for i, c in enumerate(nb.cells) if c.cell_type == 'code']
    number_cells(nb, executed)
    return nb, report


def main() -> None:
    # Turn a termination signal into an exception, so that nbclient shuts the kernel down.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('notebooks', nargs='*', type=Path, help='default: notebooks/*.ipynb')
    parser.add_argument('--small', action='store_true', help='quick configuration for tests')
    parser.add_argument('--write', action='store_true', help='save the executed notebooks in place')
    parser.add_argument('--output-dir', type=Path, help='save the executed notebooks here instead')
    parser.add_argument('--rerun-check', action='store_true', help=f're-run `{RERUN_TAG}` cells and compare tensor counts')
    parser.add_argument('--timeout', type=int, default=3600, help='seconds per cell (default 3600: a full training run fits)')
    parser.add_argument('--report', type=Path, help='write a JSON summary here')
    args = parser.parse_args()
    if args.write and args.output_dir:
        parser.error('use either --write or --output-dir')

    import_jupyter()
    ensure_kernel()

    paths = [p.resolve() for p in args.notebooks] or sorted(NOTEBOOK_DIR.glob('*.ipynb'))
    if not paths:
        fail(f'no notebooks found in {NOTEBOOK_DIR}')
    for p in paths:
        if not p.exists():
            fail(f'notebook not found: {p}')

    # The kernel spec starts `tslab` from PATH: use the project's own tslab, so
    # that the library's display helpers talk to the kernel that runs them.
    os.environ['PATH'] = f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    temporary_run_dir = None
    if args.small:
        for key, value in SMALL_CONFIG.items():
            if not os.environ.get(key):  # empty counts as unset, as in the notebooks
                os.environ[key] = value
        if not os.environ.get('CRNN_RUN_DIR'):
            # A small model must not replace the one a full run saved in runs/.
            temporary_run_dir = tempfile.mkdtemp(prefix='crnn-notebook-run-')
            os.environ['CRNN_RUN_DIR'] = temporary_run_dir
    config = {k: v for k, v in sorted(os.environ.items()) if k.startswith('CRNN_')}
    print(f'run-notebooks: {len(paths)} notebook(s), config {config or "(notebook defaults)"}', file=sys.stderr)
    try:
        reports = run_all(paths, args)
    finally:
        if temporary_run_dir:
            shutil.rmtree(temporary_run_dir, ignore_errors=True)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps({'config': config, 'notebooks': reports}, indent=1) + '\n')
    if any(r['errors'] for r in reports):
        sys.exit(1)


def run_all(paths: list[Path], args) -> list[dict]:
    """Executes each notebook in its own kernel and saves it as asked; returns the reports."""
    import nbformat
    reports = []
    for path in paths:
        nb, report = execute(path, args.timeout, args.rerun_check)
        reports.append(report)
        status = 'FAILED' if report['errors'] else 'ok'
        rerun = report.get('rerun')
        extra = f", tensors {rerun['tensorsBefore']} -> {rerun['tensorsAfter']} on re-run" if rerun else ''
        print(f"run-notebooks: {report['notebook']}: {status} in {report['seconds']} s{extra}", file=sys.stderr)
        for error in report['errors']:
            print(f'  {error}', file=sys.stderr)
        if args.output_dir:
            # Failed runs too: their outputs show what went wrong.
            strip_volatile(nb)
            args.output_dir.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, args.output_dir / path.name)
        elif args.write and not report['errors']:
            strip_volatile(nb)
            nbformat.write(nb, path)
    return reports


if __name__ == '__main__':
    main()
