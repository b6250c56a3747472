/**
 * Runs the tutorial notebooks headless on the tslab kernel (scripts/run-notebooks.py),
 * in the small configuration, and checks what they show.
 *
 * Needs Jupyter's Python packages in .venv (see requirements-notebooks.txt); without
 * them these tests fail and say how to install them. CRNN_SKIP_NOTEBOOKS=1 skips them.
 * CRNN_NOTEBOOK_PYTHON names another Python that has the packages.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const script = path.join(root, 'scripts', 'run-notebooks.py');
const notebookDir = path.join(root, 'notebooks');
const python = process.env.CRNN_NOTEBOOK_PYTHON ?? path.join(root, '.venv', 'bin', 'python');
const skip = process.env.CRNN_SKIP_NOTEBOOKS === '1' ? 'CRNN_SKIP_NOTEBOOKS=1 is set' : false;
const STEPS = 40;

const NOTEBOOKS = ['01-data-sampling', '02-the-model', '03-training', '04-predictions'];

interface OutputSummary { type: string; mime?: string[]; text?: string; name?: string; bytes?: number }
interface CellSummary { index: number; tags: string[]; outputs: OutputSummary[] }
interface NotebookReport {
  notebook: string;
  errors: string[];
  seconds: number;
  cells: CellSummary[];
  rerun?: { cells: number[]; tensorsBefore: number; tensorsAfter: number };
}
interface Report { config: Record<string, string>; notebooks: NotebookReport[] }

interface Output {
  output_type: string; name?: string; text?: string | string[]; data?: Record<string, string | string[]>;
  metadata?: Record<string, { width?: number; height?: number }>;
}
interface Cell {
  cell_type: string; source: string | string[]; metadata: { tags?: string[]; execution?: unknown };
  outputs?: Output[]; execution_count?: number | null;
}
interface Notebook { cells: Cell[]; metadata: { kernelspec?: { name: string } } }

const join = (text: string | string[] | undefined) => (Array.isArray(text) ? text.join('') : text ?? '');

function readNotebook(file: string): Notebook {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Notebook;
}

function images(cell: Cell): string[] {
  return (cell.outputs ?? []).flatMap((o) => Object.keys(o.data ?? {}).filter((m) => m.startsWith('image/')));
}

/** The picture outputs of a cell: their PNG bytes, displayed size and text stand-in. */
function pictures(cell: Cell): { png: Buffer; width?: number; height?: number; alt: string }[] {
  return (cell.outputs ?? []).filter((o) => o.data?.['image/png'] !== undefined).map((o) => ({
    png: Buffer.from(join(o.data!['image/png']), 'base64'),
    width: o.metadata?.['image/png']?.width,
    height: o.metadata?.['image/png']?.height,
    alt: join(o.data!['text/plain']),
  }));
}

/** Checks that every picture of a notebook is a PNG (never SVG, which untrusted notebooks do not show). */
function assertPngOnly(nb: Notebook, name: string): void {
  const kinds = new Set(nb.cells.flatMap(images));
  assert.deepEqual([...kinds], ['image/png'], `${name} shows its pictures as PNG only`);
  for (const picture of nb.cells.flatMap(pictures)) {
    assert.deepEqual([...picture.png.subarray(1, 4)].map((b) => String.fromCharCode(b)).join(''), 'PNG');
    const pixelWidth = picture.png.readUInt32BE(16);
    if (picture.width !== undefined) {
      assert.ok(pixelWidth >= picture.width, 'drawn at least at its displayed size');
    }
  }
}

function stdout(cell: Cell): string {
  return (cell.outputs ?? []).filter((o) => o.output_type === 'stream' && o.name === 'stdout').map((o) => join(o.text)).join('');
}

/** Checks that Python has the notebook packages; throws with the install command if not. */
function checkJupyter(): void {
  const probe = spawnSync(python, ['-c', 'import nbclient, nbformat, jupyter_client'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `The notebook tests need Jupyter's Python packages in ${python}, which ` +
      `${probe.error ? 'does not exist' : `cannot import them (${probe.stderr.trim().split('\n').pop()})`}. ` +
      'Install them with: python3 -m venv .venv && .venv/bin/pip install -r requirements-notebooks.txt ' +
      '(or set CRNN_NOTEBOOK_PYTHON to a Python that has them, or CRNN_SKIP_NOTEBOOKS=1 to skip these tests).');
  }
}

function runNotebooks(args: string[], env: Record<string, string>): SpawnSyncReturns<string> {
  return spawnSync(python, [script, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 20 * 60 * 1000,
  });
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'crnn-notebooks-'));
const outDir = path.join(work, 'executed');
const runDir = path.join(work, 'run');
let result: SpawnSyncReturns<string>;
let report: Report;
const executed = (name: string) => readNotebook(path.join(outDir, `${name}.ipynb`));
const reportOf = (name: string) => report.notebooks.find((n) => n.notebook.endsWith(`${name}.ipynb`))!;

before(() => {
  if (skip) return;
  checkJupyter();
  const reportFile = path.join(work, 'report.json');
  const started = Date.now();
  result = runNotebooks(['--small', '--rerun-check', '--output-dir', outDir, '--report', reportFile],
    { CRNN_RUN_DIR: runDir, CRNN_STEPS: String(STEPS) });
  console.log(`# small notebook run: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.ok(fs.existsSync(reportFile), `run-notebooks wrote no report (exit ${result.status}):\n${result.stderr}`);
  report = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as Report;
});

after(() => fs.rmSync(work, { recursive: true, force: true }));

test('every notebook runs top to bottom without an error output', { skip }, () => {
  assert.deepEqual(report.notebooks.map((n) => path.basename(n.notebook, '.ipynb')), NOTEBOOKS);
  for (const notebook of report.notebooks) {
    assert.deepEqual(notebook.errors, [], `${notebook.notebook} failed`);
  }
  assert.equal(result.status, 0, result.stderr);
  assert.equal(report.config.CRNN_STEPS, String(STEPS));
});

test('notebook 1 shows digits, sequences and the target distribution as PNG images', { skip }, () => {
  const nb = executed('01-data-sampling');
  assertPngOnly(nb, '01');
  const shown = nb.cells.flatMap(pictures);
  assert.ok(shown.length >= 4, `only ${shown.length} images`);
  const alts = shown.map((p) => p.alt).join('\n');
  assert.match(alts, /^\d − \d = −?\d$/m, 'sequences are captioned with their difference');
  assert.ok(alts.includes('Targets of 10,000 sampled training sequences · first digit − second digit'),
    'the bar chart of the targets is drawn');
  assert.ok(shown.every((p) => p.width! > 50 && p.height! > 50), 'each picture has a displayed size');
  assert.match(nb.cells.map(stdout).join(''), /xs: \[16,2,28,28,1\] float32, ys: \[16,19\] float32/);
});

test('notebook 2 checks the shapes through the network and the parameter count', { skip }, () => {
  const text = executed('02-the-model').cells.map(stdout).join('');
  assert.match(text, /total\s+543,091\s+\(by hand: 543,091\)/);
  assert.match(text, /stack_steps\s+\[4,2,256\]/);
  assert.match(text, /class_probabilities\s+\[4,19\]/);
});

test('notebook 3 draws the live chart in one output and prints the final accuracy', { skip }, () => {
  const nb = executed('03-training');
  const training = nb.cells.find((c) => c.metadata.tags?.includes('rerun-check'))!;
  assert.equal(training.outputs!.length, 1, 'the live chart redraws a single output');
  assertPngOnly(nb, '03');
  const [chart] = pictures(training);
  assert.ok(chart.png.length > 10_000, 'the chart is a real picture');
  assert.ok(chart.alt.startsWith(`Training: completed after ${STEPS} steps`), 'the final drawing carries the summary line');
  assert.ok(fs.readFileSync(path.join(runDir, 'curves.svg'), 'utf8').includes('>Loss (cross-entropy)<'),
    'the saved SVG chart has both panels');
  const match = /final accuracy on 256 fixed test sequences: (\d+\.\d\d)% after (\d+) steps \(article: about 98%/
    .exec(nb.cells.map(stdout).join(''));
  assert.ok(match, 'the final accuracy line is printed');
  assert.ok(Number(match[1]) >= 0 && Number(match[1]) <= 100);
  assert.equal(Number(match[2]), STEPS);
  for (const file of ['model.json', 'weights.bin', 'run.json', 'history.csv', 'curves.svg']) {
    assert.ok(fs.existsSync(path.join(runDir, file)), `the run folder has ${file}`);
  }
});

test('notebook 4 loads the saved model and shows predictions, confusion matrix and digit-pair grid', { skip }, () => {
  const nb = executed('04-predictions');
  const text = nb.cells.map(stdout).join('');
  assert.match(text, /loaded the model of notebook 3 from .*: 40 steps/);
  assert.match(text, /accuracy on 500 new test sequences: \d+\.\d\d%/);
  assertPngOnly(nb, '04');
  const alts = nb.cells.flatMap(pictures).map((p) => p.alt);
  for (const title of ['Confusion matrix', 'Accuracy per true difference', 'Accuracy per (first, second) digit']) {
    assert.ok(alts.some((a) => a.startsWith(`${title} · `)), `missing chart ${title}`);
  }
  assert.ok(alts.some((a) => /^\d − \d = −?\d, predicted −?\d \((>?\d+(\.\d)?)%\)$/m.test(a)), 'the prediction grid is captioned');
});

test('re-running the model and training cells leaves the tensor count unchanged', { skip }, () => {
  for (const name of ['02-the-model', '03-training', '04-predictions']) {
    const rerun = reportOf(name).rerun;
    assert.ok(rerun, `${name} has a cell tagged rerun-check`);
    assert.ok(rerun.tensorsBefore > 0, `${name} holds a model`);
    assert.equal(rerun.tensorsAfter, rerun.tensorsBefore, `${name} leaked tensors on re-run`);
  }
});

test('notebook 4 trains a small model of its own when no run was saved', { skip }, () => {
  const reportFile = path.join(work, 'report-alone.json');
  const alone = runNotebooks(['--small', '--report', reportFile, path.join(notebookDir, '04-predictions.ipynb')],
    { CRNN_RUN_DIR: path.join(work, 'no-such-run'), CRNN_STEPS: '10' });
  assert.equal(alone.status, 0, alone.stderr);
  const cells = (JSON.parse(fs.readFileSync(reportFile, 'utf8')) as Report).notebooks[0].cells;
  const text = cells.flatMap((c) => c.outputs).map((o) => o.text ?? '').join('');
  assert.match(text, /no saved run in .*no-such-run: run notebook 3 .* Training a small one here instead \(10 steps\)/);
});

test('--small keeps its model in a temporary folder and numbers the executed cells', { skip }, () => {
  const file = path.join(work, 'where.ipynb');
  const code = (id: string, source: string) => ({ cell_type: 'code', id, metadata: {}, execution_count: null, outputs: [], source });
  fs.writeFileSync(file, JSON.stringify({
    nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' } },
    cells: [
      code('a', "console.log('run dir: ' + process.env.CRNN_RUN_DIR);"),
      { cell_type: 'markdown', id: 'b', metadata: {}, source: 'between' },
      code('c', "console.log('steps: ' + process.env.CRNN_STEPS);"),
    ],
  }));
  const out = path.join(work, 'where-out');
  // An empty CRNN_RUN_DIR counts as unset, whatever the calling shell has.
  const run = runNotebooks(['--small', '--output-dir', out, file], { CRNN_RUN_DIR: '', CRNN_STEPS: '' });
  assert.equal(run.status, 0, run.stderr);
  const nb = readNotebook(path.join(out, 'where.ipynb'));
  const text = nb.cells.map(stdout).join('');
  const runDirUsed = /run dir: (.+)/.exec(text)?.[1] ?? '';
  assert.ok(runDirUsed.startsWith(path.join(os.tmpdir(), 'crnn-notebook-run-')), `--small ran with CRNN_RUN_DIR=${runDirUsed}`);
  assert.ok(!fs.existsSync(runDirUsed), 'the temporary run folder is removed afterwards');
  assert.match(text, /steps: 40/, 'the small configuration fills in unset settings');
  assert.deepEqual(nb.cells.map((c) => c.execution_count), [1, undefined, 2]);
});

test('the executor fails on a notebook whose cell throws, naming the error', { skip }, () => {
  const file = path.join(work, 'broken.ipynb');
  fs.writeFileSync(file, JSON.stringify({
    nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' } },
    cells: [{ cell_type: 'code', id: 'a', metadata: {}, execution_count: null, outputs: [],
      source: "throw new Error('the notebook is broken');" }],
  }));
  const broken = runNotebooks([file], {});
  assert.equal(broken.status, 1);
  assert.match(broken.stderr, /broken\.ipynb: FAILED/);
  assert.match(broken.stderr, /the notebook is broken/);
});

test('the committed notebooks carry their outputs, a Summary and Exercises, and no volatile metadata', () => {
  for (const name of NOTEBOOKS) {
    const nb = readNotebook(path.join(notebookDir, `${name}.ipynb`));
    assert.equal(nb.metadata.kernelspec?.name, 'tslab', `${name} runs on tslab`);
    const markdown = nb.cells.filter((c) => c.cell_type === 'markdown').map((c) => join(c.source)).join('\n');
    assert.match(markdown, /^## Summary$/m, `${name} has a Summary`);
    assert.match(markdown, /^## Exercises$/m, `${name} has Exercises`);
    const code = nb.cells.filter((c) => c.cell_type === 'code');
    assert.ok(code.flatMap(images).length > 0, `${name} was saved with its image outputs`);
    assertPngOnly(nb, name);
    assert.deepEqual(code.map((c) => c.execution_count), code.map((_, i) => i + 1), `${name} cells are numbered in order`);
    const size = fs.statSync(path.join(notebookDir, `${name}.ipynb`)).size;
    assert.ok(size < 1_000_000, `${name} is ${size} bytes; keep a notebook under 1 MB`);
    for (const cell of code) {
      assert.equal(cell.metadata.execution, undefined, `${name} keeps no execution timestamps`);
      for (const output of cell.outputs ?? []) {
        assert.notEqual(output.output_type, 'error', `${name} was saved with an error`);
        assert.ok(!(output.output_type === 'stream' && output.name === 'stderr'), `${name} was saved with stderr output`);
      }
    }
  }
});
