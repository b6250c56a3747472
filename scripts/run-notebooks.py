#!/usr/bin/env python3
"""Execute the tutorial notebooks headless on the tslab (TypeScript) kernel.

Each notebook runs top to bottom in a fresh kernel whose working directory is
notebooks/, as in JupyterLab. The run fails when a cell raises or prints an
error. Options:

  -p, --param NAME=VALUE
                 override a notebook parameter, as papermill does: the cell
                 tagged `parameters` declares them (`let numSteps = 10_000;`),
                 and a new code cell tagged `injected-parameters`, inserted
                 right after it, assigns the given values (`numSteps = 40;`),
                 so the cells below see them. VALUE is a TypeScript literal: a
                 number, true, false, undefined, a quoted string ('sum' or
                 "sum"), JSON, or an object or array of those with names
                 unquoted ({ task: 'sum', seqLength: 3 }). From a shell,
                 quote the quotes too: -p "preset='fast'". Repeatable. Each applies to the notebooks
                 whose parameters cell declares NAME; a NAME that none of them
                 declares is refused, with the names they do. Relative paths
                 are relative to notebooks/, like the notebooks' own.
  --small        a quick configuration: the parameters of SMALL_PARAMETERS
                 (few training steps, a small evaluation set) for the
                 notebooks that declare them; -p wins over them, and an
                 object given with -p for a parameter --small sets too
                 (notebook 3's `overrides`) is spread over --small's, so
                 that `--small -p "overrides={ task: 'sum' }"` stays small
                 and learns the sum. Unless -p
                 runDir is given, runDir is a temporary folder (removed
                 afterwards), so notebook 3's small model never replaces
                 ../runs/notebook-model and notebooks 4 and 6 read that small
                 model.
  --write        save the executed notebooks in place, with volatile metadata
                 (timings, kernel versions) removed, consecutive prints merged
                 and the executed cells numbered 1, 2, 3, … in order, so that a
                 re-run changes only what really changed. Injected parameter
                 cells are left out (the saved outputs then come from values
                 the saved source does not show: --write is meant for full
                 default runs).
  --output-dir D save the executed notebooks into D instead (same clean-up,
                 injected parameter cells kept).
  --rerun-check  after a notebook has run, execute its cells tagged
                 `rerun-check` (the training cell) once more and compare
                 tf.memory().numTensors before and after: re-running a cell
                 must not leak tensors.
  --report FILE  write a JSON summary (parameters, outputs per cell, timings,
                 tensor counts) for the tests.

Needs: the Python packages of requirements-notebooks.txt (jupyter_client,
nbclient, nbformat), `npm install` (tslab in node_modules) and `npm run build`
(the notebooks import the compiled library from dist/). The tslab kernel spec
is installed into this Python environment when it is missing.

Usage: .venv/bin/python scripts/run-notebooks.py [--small] [-p NAME=VALUE ...] [--write]
           [notebooks/01-data-sampling.ipynb ...]
Example: .venv/bin/python scripts/run-notebooks.py --small -p "overrides={ task: 'sum', seqLength: 3 }" \
           --output-dir /tmp/executed notebooks/03-training.ipynb notebooks/04-predictions.ipynb
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import re
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

# --small: small enough for a 2-core CI machine, large enough to exercise every
# cell. Notebook parameters as TypeScript literals; e2e/expectations.ts has the same.
SMALL_TRAINING = {
    'numSteps': '40',
    'batchSize': '32',
    'evalEvery': '20',
    'evalSize': '256',
}
SMALL_PARAMETERS = {
    **SMALL_TRAINING,
    # Notebook 3 takes its settings by name, over a preset.
    'overrides': '{ ' + ', '.join(f'{name}: {value}' for name, value in SMALL_TRAINING.items()) + ' }',
}

PARAMETERS_TAG = 'parameters'
INJECTED_TAG = 'injected-parameters'
NAME = re.compile(r'[A-Za-z_$][A-Za-z0-9_$]*')
# A top-level declaration in a parameters cell: `let numSteps = 10_000;`.
DECLARATION = re.compile(r'^(let|var|const)\s+([A-Za-z_$][A-Za-z0-9_$]*)', re.MULTILINE)
# TypeScript literals JSON does not take: 'single-quoted' strings, 10_000, .5, undefined.
TS_LITERAL = re.compile(
    r"""'(?:[^'\\\n]|\\.)*'"""
    r'|[+-]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?'
    r'|undefined'
)

RERUN_TAG = 'rerun-check'
TENSOR_MARKER = 'CRNN_NUM_TENSORS'
# An ad-hoc cell (never saved) that reads the tensor count in the notebook's kernel.
TENSOR_PROBE = (
    "console.log('%s ' + require('../dist/lib/tf').tf.memory().numTensors);" % TENSOR_MARKER
)


def fail(message: str) -> None:
    print(f'run-notebooks: {message}', file=sys.stderr)
    sys.exit(2)


# The pieces of a TypeScript object or array literal: punctuation, names, literals.
TOKEN = re.compile(r"""\s*(?:(?P<punct>[{}\[\],:])|(?P<literal>"(?:[^"\\\n]|\\.)*"|""" + TS_LITERAL.pattern +
                   r""")|(?P<name>[A-Za-z_$][A-Za-z0-9_$]*))""")
KEYWORDS = ('true', 'false', 'null', 'undefined')


def tokens(text: str) -> list[tuple[str, str]] | None:
    """(kind, text) of each token of `text`, or None where something else stands."""
    found, position = [], 0
    while position < len(text.rstrip()):
        match = TOKEN.match(text, position)
        if not match:
            return None
        kind = match.lastgroup
        found.append((kind, match.group(kind)))
        position = match.end()
    return found


def is_composite_literal(text: str) -> bool:
    """True for an object or array literal whose values are literals: { task: 'sum', filters: [8, 8] }."""
    found = tokens(text)
    if not found or found[0][1] not in '{[':
        return False
    position = 0

    def value() -> bool:
        nonlocal position
        if position >= len(found):
            return False
        kind, token = found[position]
        position += 1
        if kind == 'literal' or (kind == 'name' and token in KEYWORDS):
            return True
        if token not in ('{', '['):
            return False
        close = '}' if token == '{' else ']'
        while position < len(found) and found[position][1] != close:
            if token == '{':
                if found[position][0] not in ('name', 'literal') or position + 1 >= len(found) \
                        or found[position + 1][1] != ':':
                    return False
                position += 2
            if not value():
                return False
            if position < len(found) and found[position][1] == ',':
                position += 1
            elif position < len(found) and found[position][1] != close:
                return False
        position += 1
        return position <= len(found)

    return value() and position == len(found)


def is_literal(value: str) -> bool:
    """True for a TypeScript literal: a number, true, false, undefined, a quoted string, JSON,
    or an object or array of those with unquoted names."""
    if TS_LITERAL.fullmatch(value) or is_composite_literal(value):
        return True
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def parse_param(text: str) -> tuple[str, str]:
    """NAME and VALUE of a -p NAME=VALUE, the value checked to be a literal."""
    name, sep, value = text.partition('=')
    name, value = name.strip(), value.strip()
    if not sep or not NAME.fullmatch(name):
        fail(f"-p {text}: expected NAME=VALUE, e.g. -p numSteps=40 or -p \"task='sum'\"")
    if not is_literal(value):
        fail(f'-p {text}: {value} is not a TypeScript literal (a number, true, false, undefined, a quoted '
             f"string, JSON, or an object of those). Quote strings, and from a shell quote the quotes: "
             f"-p \"{name}='{value}'\"")
    return name, value


def parameters_cell(nb) -> tuple[int | None, dict[str, str]]:
    """The index of the cell tagged `parameters` (None if there is none) and the
    names it declares at the top level, each with its keyword (let, var, const)."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == 'code' and PARAMETERS_TAG in cell.metadata.get('tags', []):
            return index, {m.group(2): m.group(1) for m in DECLARATION.finditer(cell.source)}
    return None, {}


def overridable(nb) -> list[str]:
    """The parameters a notebook declares with let or var, in order."""
    return [name for name, keyword in parameters_cell(nb)[1].items() if keyword != 'const']


def check_parameter_names(notebooks: dict[Path, object], names: list[str]) -> None:
    """Refuses -p names that no notebook to run declares in its parameters cell."""
    unknown = [n for n in names if not any(n in overridable(nb) for nb in notebooks.values())]
    if not unknown:
        return
    lines = []
    for path, nb in notebooks.items():
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        index, declared = parameters_cell(nb)
        if index is None:
            lines.append(f'  {shown}: no cell tagged `{PARAMETERS_TAG}`')
            continue
        lines.append(f"  {shown}: {', '.join(overridable(nb)) or '(none)'}")
        for name in unknown:
            if declared.get(name) == 'const':
                lines.append(f'    ({name} is declared with const there; parameters are declared with let)')
    fail(f"unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: not assigned in the "
         f"`{PARAMETERS_TAG}` cell of the notebooks to run. Known parameters:\n" + '\n'.join(lines))


def is_injected(cell) -> bool:
    return INJECTED_TAG in cell.metadata.get('tags', [])


def inject_parameters(nb, parameters: dict[str, str]) -> None:
    """Inserts a cell assigning `parameters` right after the cell tagged
    `parameters`, as papermill does; an injected cell left from an earlier run
    is replaced. The assignments stand in a block, so that the cell prints
    nothing (tslab shows the value of a cell's last expression)."""
    import nbformat
    nb.cells = [cell for cell in nb.cells if not is_injected(cell)]
    if not parameters:
        return
    index, _ = parameters_cell(nb)
    source = '\n'.join([
        '// Injected by scripts/run-notebooks.py: these values replace the parameters above.',
        '{',
        *(f'  {name} = {value};' for name, value in parameters.items()),
        '}',
    ])
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source, metadata={'tags': [INJECTED_TAG]}))


def remove_injected(nb) -> None:
    """Drops injected parameter cells and numbers the executed cells left 1, 2, 3, …"""
    nb.cells = [cell for cell in nb.cells if not is_injected(cell)]
    number_cells(nb, [i for i, c in enumerate(nb.cells) if c.cell_type == 'code' and c.execution_count is not None])


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


def execute(path: Path, nb, parameters: dict[str, str], timeout: int, rerun_check: bool) -> tuple[object, dict]:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    inject_parameters(nb, parameters)
    client = NotebookClient(
        nb, kernel_name=KERNEL_NAME, timeout=timeout, allow_errors=False, record_timing=False,
        resources={'metadata': {'path': str(path.parent)}},
    )
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    report: dict = {'notebook': str(shown), 'parameters': parameters, 'errors': []}
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
    parser.add_argument('-p', '--param', action='append', default=[], metavar='NAME=VALUE',
                        help="override a parameter with a TypeScript literal, e.g. -p numSteps=40 -p \"task='sum'\"")
    parser.add_argument('--small', action='store_true', help='quick configuration for tests (a preset of parameters)')
    parser.add_argument('--write', action='store_true', help='save the executed notebooks in place')
    parser.add_argument('--output-dir', type=Path, help='save the executed notebooks here instead')
    parser.add_argument('--rerun-check', action='store_true', help=f're-run `{RERUN_TAG}` cells and compare tensor counts')
    parser.add_argument('--timeout', type=int, default=3600, help='seconds per cell (default 3600: a full training run fits)')
    parser.add_argument('--report', type=Path, help='write a JSON summary here')
    args = parser.parse_args()
    if args.write and args.output_dir:
        parser.error('use either --write or --output-dir')
    explicit = dict(parse_param(text) for text in args.param)

    import_jupyter()
    import nbformat

    paths = [p.resolve() for p in args.notebooks] or sorted(NOTEBOOK_DIR.glob('*.ipynb'))
    if not paths:
        fail(f'no notebooks found in {NOTEBOOK_DIR}')
    for p in paths:
        if not p.exists():
            fail(f'notebook not found: {p}')
    notebooks = {p: nbformat.read(p, as_version=4) for p in paths}
    check_parameter_names(notebooks, list(explicit))
    ensure_kernel()

    requested = dict(SMALL_PARAMETERS) if args.small else {}
    temporary_run_dir = None
    if args.small and 'runDir' not in explicit and any('runDir' in overridable(nb) for nb in notebooks.values()):
        # A small model must not replace the one a full run saved in runs/.
        temporary_run_dir = tempfile.mkdtemp(prefix='crnn-notebook-run-')
        requested['runDir'] = json.dumps(temporary_run_dir)
    for name, value in explicit.items():
        small = requested.get(name, '')
        # An object over --small's object: its names win, the others stay small.
        both_objects = small.startswith('{') and value.startswith('{')
        requested[name] = f'{{ ...{small}, ...{value} }}' if both_objects else value

    # The kernel spec starts `tslab` from PATH: use the project's own tslab, so
    # that the library's display helpers talk to the kernel that runs them.
    os.environ['PATH'] = f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    print(f'run-notebooks: {len(paths)} notebook(s)' + (
        f", parameters {', '.join(f'{k}={v}' for k, v in requested.items())}" if requested else ''), file=sys.stderr)
    try:
        reports = run_all(notebooks, requested, args)
    finally:
        if temporary_run_dir:
            shutil.rmtree(temporary_run_dir, ignore_errors=True)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps({'parameters': requested, 'notebooks': reports}, indent=1) + '\n')
    if any(r['errors'] for r in reports):
        sys.exit(1)


def run_all(notebooks: dict[Path, object], requested: dict[str, str], args) -> list[dict]:
    """Executes each notebook in its own kernel, with the requested parameters
    it declares, and saves it as asked; returns the reports."""
    import nbformat
    reports = []
    for path, nb in notebooks.items():
        declared = overridable(nb)
        parameters = {name: value for name, value in requested.items() if name in declared}
        nb, report = execute(path, nb, parameters, args.timeout, args.rerun_check)
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
            remove_injected(nb)
            strip_volatile(nb)
            nbformat.write(nb, path)
    return reports


if __name__ == '__main__':
    main()
