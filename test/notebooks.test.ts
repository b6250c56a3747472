/**
 * Runs the tutorial notebooks headless on the tslab kernel (scripts/run-notebooks.py),
 * in the small configuration (--small, parameters injected after each notebook's
 * `parameters` cell), and checks what they show.
 *
 * Needs Jupyter's Python packages in .venv (see requirements-notebooks.txt); without
 * them these tests fail and say how to install them. CRNN_SKIP_NOTEBOOKS=1 skips them.
 * CRNN_NOTEBOOK_PYTHON names another Python that has the packages.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { presetConfigs } from '../lib/presets';
import { resolveCrnnConfig, resolveTrainConfig } from '../lib/config';
import { formatDuration } from '../lib/view/text';
import { tempFolders } from './helpers/temp';

const root = path.resolve(__dirname, '..', '..');
const script = path.join(root, 'scripts', 'run-notebooks.py');
const notebookDir = path.join(root, 'notebooks');
const python = process.env.CRNN_NOTEBOOK_PYTHON ?? path.join(root, '.venv', 'bin', 'python');
const skip = process.env.CRNN_SKIP_NOTEBOOKS === '1' ? 'CRNN_SKIP_NOTEBOOKS=1 is set' : false;
const STEPS = 40;

const NOTEBOOKS = ['01-data-sampling', '02-the-model', '03-training', '04-predictions', '05-experiments',
  '06-what-the-network-learned'];

interface OutputSummary { type: string; mime?: string[]; text?: string; name?: string; bytes?: number }
interface CellSummary { index: number; tags: string[]; outputs: OutputSummary[] }
interface NotebookReport {
  notebook: string;
  /** The parameters injected into this notebook, as TypeScript literals. */
  parameters: Record<string, string>;
  errors: string[];
  seconds: number;
  cells: CellSummary[];
  rerun?: { cells: number[]; tensorsBefore: number; tensorsAfter: number };
}
interface Report { parameters: Record<string, string>; notebooks: NotebookReport[] }

interface Output {
  output_type: string; name?: string; text?: string | string[]; data?: Record<string, string | string[]>;
  metadata?: Record<string, { width?: number; height?: number }>;
}
interface Cell {
  id?: string; cell_type: string; source: string | string[]; metadata: { tags?: string[]; execution?: unknown };
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

/** The cells' text outputs, in order: the stdout of each code cell. */
function codeOutputs(nb: Notebook): string[] {
  return nb.cells.filter((c) => c.cell_type === 'code').map(stdout);
}

/**
 * The captions of a grid of predictions, from its text stand-in (a title line, then one line per
 * sequence: '4 − 6 = −2, predicted 3 (>99.9%)'): the true and the predicted answer of each.
 */
function predictionCaptions(alt: string): { truth: string; predicted: string }[] {
  return alt.split('\n').flatMap((line) => {
    const m = /= (−?\d+), predicted (−?\d+) \(/.exec(line);
    return m ? [{ truth: m[1], predicted: m[2] }] : [];
  });
}

/** The picture whose text stand-in starts with `title`, and its captions. */
function grid(nb: Notebook, title: RegExp): { alt: string; captions: { truth: string; predicted: string }[] } {
  const found = nb.cells.flatMap(pictures).find((p) => title.test(p.alt.split('\n')[0]));
  assert.ok(found, `no grid titled ${title}`);
  const captions = predictionCaptions(found.alt);
  assert.equal(captions.length, found.alt.split('\n').length - 1, 'one caption per sequence, under the title');
  return { alt: found.alt, captions };
}

/** A census line of tensorCensus: '53 tensors: 17 weights, 36 optimiser state, 0 other'. */
function census(text: string, prefix: string): { total: number; weights: number; optimizer: number; other: number } {
  const m = new RegExp(`${prefix}(\\d+) tensors: (\\d+) weights, (\\d+) optimiser state, (\\d+) other`).exec(text);
  assert.ok(m, `no tensor census after "${prefix}"`);
  const [total, weights, optimizer, other] = m.slice(1).map(Number);
  return { total, weights, optimizer, other };
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

function runNotebooks(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(python, [script, ...args], { cwd: root, encoding: 'utf8', timeout: 20 * 60 * 1000 });
}

/** A -p argument pair giving a string parameter, quoted as a TypeScript literal. */
const stringParam = (name: string, value: string) => ['-p', `${name}=${JSON.stringify(value)}`];

const code = (id: string, source: string, tags?: string[]) =>
  ({ cell_type: 'code', id, metadata: tags ? { tags } : {}, execution_count: null, outputs: [], source });

/** Writes a small tslab notebook with these cells. */
function writeNotebook(file: string, cells: object[]): void {
  fs.writeFileSync(file, JSON.stringify({
    nbformat: 4, nbformat_minor: 5,
    metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' } }, cells,
  }));
}

/** The final accuracy notebook 3 prints, and the accuracy notebook 4 measures on the same set. */
const FINAL_ACCURACY = /final accuracy on (\d+) fixed test sequences: (\d+\.\d\d)% after (\d+) steps/;
const ACCURACY_04 = /accuracy on (\d+) fixed test sequences: (\d+\.\d\d)% .*notebook 3's last evaluation: (\d+\.\d\d)%/;

const work = tempFolders('notebooks')();
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
  result = runNotebooks(['--small', '--rerun-check', '--output-dir', outDir, '--report', reportFile,
    ...stringParam('runDir', runDir), ...stringParam('studyDir', path.join(work, 'study')), '-p', `numSteps=${STEPS}`]);
  console.log(`# small notebook run: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.ok(fs.existsSync(reportFile), `run-notebooks wrote no report (exit ${result.status}):\n${result.stderr}`);
  report = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as Report;
});


test('every notebook runs top to bottom without an error output', { skip }, () => {
  assert.deepEqual(report.notebooks.map((n) => path.basename(n.notebook, '.ipynb')), NOTEBOOKS);
  for (const notebook of report.notebooks) {
    assert.deepEqual(notebook.errors, [], `${notebook.notebook} failed`);
  }
  assert.equal(result.status, 0, result.stderr);
  assert.equal(reportOf('03-training').parameters.overrides, '{ numSteps: 40, batchSize: 32, evalEvery: 20, evalSize: 256 }',
    '--small gives notebook 3 its training settings by name');
  assert.equal(reportOf('06-what-the-network-learned').parameters.numSteps, String(STEPS));
  assert.equal(reportOf('06-what-the-network-learned').parameters.evalSize, '256', '--small fills in the other parameters');
  assert.deepEqual(reportOf('04-predictions').parameters, { runDir: JSON.stringify(runDir) },
    'each notebook gets the parameters it declares');
  assert.deepEqual(reportOf('01-data-sampling').parameters, { batchSize: '32' }, 'notebook 1 takes the batch size too');
});

test('the notebooks print the machine and versions first and their running time before the summary', { skip }, () => {
  for (const name of NOTEBOOKS) {
    const nb = executed(name);
    const outputs = codeOutputs(nb);
    assert.match(outputs[0], /^CPU: .+, \d+ cores?\b.*\nsoftware: Node v\d+\.\d+\.\d+, TensorFlow\.js \d+\.\d+\.\d+/,
      `${name}: the first cell describes the machine`);
    const summary = nb.cells.findIndex((c) => c.cell_type === 'markdown' && /^## Summary$/m.test(join(c.source)));
    const timing = nb.cells.slice(0, summary).filter((c) => c.cell_type === 'code').pop()!;
    assert.match(stdout(timing), /^(\d+\.\d s|\d+m \d\ds|\d+h \d\dm)\n$/, `${name}: the last cell before the summary prints the time`);
  }
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
  assert.match(nb.cells.map(stdout).join(''), /xs: \[32,2,28,28,1\] float32, ys: \[32,19\] float32/, 'the batch of batchSize');
});

test('notebook 2 checks the shapes through the network and the parameter count', { skip }, () => {
  const text = executed('02-the-model').cells.map(stdout).join('');
  assert.match(text, /total\s+543,091\s+\(by hand: 543,091\)/);
  // The model written out in tf.layers is buildCrnn's: the same count, the same outputs for the same weights.
  assert.match(text, /^parameters: written out 543,091, buildCrnn 543,091$/m);
  const gap = /the largest difference between the two models' 152 probabilities is (exactly 0|\d\.\de[+-]\d+)$/m.exec(text);
  assert.ok(gap, 'the two models\' outputs are compared');
  assert.ok(gap[1] === 'exactly 0' || Number(gap[1]) < 1e-6, `the outputs differ by ${gap[1]}`);
  assert.match(text, /^step\*_dense ×2\s+Dense\s+\[·, 256\]\s+200,960 each$/m, 'the layer table has one row per repeated layer');
  assert.match(text, /^total: 543,091 parameters$/m);
  assert.match(text, /stack_steps\s+\[4,2,256\]/);
  assert.match(text, /class_probabilities\s+\[4,19\]/);
  // The prose: the loss starts near ln 19, the probabilities almost even.
  const untrained = /mean loss (\d+\.\d+), where .* ln 19 = (\d+\.\d+); the largest of the 19 probabilities averages (\d\.\d+)/
    .exec(text);
  assert.ok(untrained, 'the untrained loss is printed');
  assert.ok(Math.abs(Number(untrained[1]) - Number(untrained[2])) < 0.3, `untrained loss ${untrained[1]} is near ln 19`);
  assert.ok(Number(untrained[3]) < 0.2, `the largest probability (${untrained[3]}) is close to 1/19`);
  // The prose: the weight tensors, and Adam's two scalars before any step; nothing else.
  assert.deepEqual(census(text, 'now '), { total: 19, weights: 17, optimizer: 2, other: 0 });
});

test('notebook 3 draws the live chart in one output and prints the final accuracy', { skip }, () => {
  const nb = executed('03-training');
  const training = nb.cells.find((c) => c.metadata.tags?.includes('rerun-check'))!;
  assert.equal(training.outputs!.length, 1, 'the live chart redraws a single output');
  assertPngOnly(nb, '03');
  const [chart] = pictures(training);
  assert.ok(chart.png.length > 10_000, 'the chart is a real picture');
  assert.ok(chart.alt.startsWith(`Training: completed after ${STEPS} steps`), 'the final drawing carries the summary line');
  assert.ok(fs.readFileSync(path.join(runDir, 'training-curves.svg'), 'utf8').includes('>Loss (cross-entropy)<'),
    'the saved SVG chart has both panels');
  const text = nb.cells.map(stdout).join('');
  assert.match(text, /^preset article, with numSteps 40, batchSize 32, evalEvery 20, evalSize 256$/m);
  assert.match(text, /task: difference of T = 2 digits, 19 classes/);
  const match = FINAL_ACCURACY.exec(text);
  assert.ok(match, 'the final accuracy line is printed');
  assert.match(text, /\(article: about 98%/);
  assert.equal(Number(match[1]), 256);
  assert.ok(Number(match[2]) >= 0 && Number(match[2]) <= 100);
  assert.equal(Number(match[3]), STEPS);
  assert.deepEqual(fs.readdirSync(runDir).sort(),
    ['history.csv', 'history.json', 'model.json', 'run.json', 'training-curves.svg', 'weights.bin'],
    'the run folder npm run train writes');
  // One training time for the run: the chart's final line, the saved chart's and the result cell's.
  const time = /training time (\d+\.\d s|\d+m \d\ds) for 40 steps and 2 evaluations/.exec(text);
  assert.ok(time, 'the training time is printed');
  assert.ok(chart.alt.endsWith(` · ${time[1]}`), `the chart says ${chart.alt}, the result ${time[1]}`);
  // The saved chart is of the run saved last (--rerun-check trains again): its time is that run's.
  const saved = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as { history: { elapsedMs: number } };
  assert.ok(fs.readFileSync(path.join(runDir, 'training-curves.svg'), 'utf8')
    .includes(` · ${formatDuration(saved.history.elapsedMs / 1000)}<`), 'the saved chart gives the saved run\'s training time');
  // How often each training image came back: steps × batch × T / 60,000, as the prose explains.
  const seen = /(\d+) steps × (\d+) sequences × (\d+) digits: each of the 60000 training images appeared in about ([\d.]+) sequences/
    .exec(text);
  assert.ok(seen, 'the images-seen line is printed');
  assert.deepEqual(seen.slice(1, 4).map(Number), [STEPS, 32, 2]);
  assert.equal(Number(seen[4]), Number((STEPS * 32 * 2 / 60000).toPrecision(2)));
  assert.match(text, /last evaluation \(step 40\), fixed test set: error rate \d+\.\d\d%, loss \d+\.\d+/);
  assert.match(text, /the gap: the evaluation's error rate is \d+\.\d\d points (above|below) the training batches'/);
  assert.match(text, /the curves had not parted|from step \d+ on, the evaluation's error rate stayed above twice/);
  // The prose: after training, the weights and Adam's state (two moments per weight and two scalars), nothing else.
  const before = census(text, 'before saving: ');
  assert.equal(before.weights, 17);
  assert.equal(before.optimizer, 2 * before.weights + 2);
  assert.equal(before.other, 0, 'training leaves no tensor behind');
  assert.deepEqual(census(text, 'after saving: {2}'), before, 'saving leaves no tensor behind');
});

test('notebook 4 loads the saved model and shows predictions, confusion matrix and digit-pair grid', { skip }, () => {
  const nb = executed('04-predictions');
  const text = nb.cells.map(stdout).join('');
  assert.match(text, /loaded the model of notebook 3 from .*: 40 steps/);
  assert.match(text, /task: difference of T = 2 digits \(19 classes\); seed 42; evaluation set of 256 test sequences/);
  const match = ACCURACY_04.exec(text);
  assert.ok(match, 'the accuracy line is printed');
  assert.equal(Number(match[1]), 256, 'measured on the run\'s evaluation set');
  const final = FINAL_ACCURACY.exec(executed('03-training').cells.map(stdout).join(''))!;
  assert.equal(match[2], final[2], 'the same accuracy as notebook 3\'s final figure');
  assert.equal(match[3], final[2]);
  assertPngOnly(nb, '04');
  const alts = nb.cells.flatMap(pictures).map((p) => p.alt);
  for (const title of ['Confusion matrix', 'Accuracy per true difference', 'Mistakes per (first, second) digit']) {
    assert.ok(alts.some((a) => a.startsWith(`${title} · `)), `missing chart ${title}`);
  }
  assert.ok(alts.some((a) => /^\d − \d = −?\d, predicted −?\d \((>?\d+(\.\d)?)%\)$/m.test(a)), 'the prediction grid is captioned');
  assertMistakeGrids(nb, text);
  const left = census(text, '');
  assert.equal(left.optimizer, 2 * left.weights + 2, 'the loaded model carries its Adam state');
  assert.equal(left.other, 0, 'evaluating leaves no tensor behind');
});

/**
 * The grids of notebook 4: in the first sequences of the set, as many are captioned wrong as the
 * cell says are mistakes; the grid of mistakes and the most confident mistakes hold mistakes only.
 */
function assertMistakeGrids(nb: Notebook, text: string): void {
  const first = grid(nb, /^The first \d+ sequences of the evaluation set$/);
  const counted = /^(\d+) of these (\d+) sequences are mistakes/m.exec(text);
  assert.ok(counted, 'the number of mistakes among the first sequences is printed');
  assert.equal(Number(counted[2]), first.captions.length);
  assert.equal(first.captions.filter((c) => c.truth !== c.predicted).length, Number(counted[1]),
    'the count printed is the count shown');
  const mistakes = grid(nb, /^\d+ of the \d+ mistakes, in the order of the set$/);
  assert.ok(mistakes.captions.length > 0, 'a small model makes mistakes to show');
  for (const c of mistakes.captions) assert.notEqual(c.predicted, c.truth, `not a mistake: ${mistakes.alt}`);
  const confident = grid(nb, /^The \d+ most confident mistakes$/);
  for (const c of confident.captions) assert.notEqual(c.predicted, c.truth, `not a mistake: ${confident.alt}`);
}

test('notebook 6 shows filters, feature maps, a PCA, a per-digit probe and training- against test-split numbers', { skip }, () => {
  const nb = executed('06-what-the-network-learned');
  const text = nb.cells.map(stdout).join('');
  assert.match(text, new RegExp(`loaded the model of notebook 3 from .*: trained for ${STEPS} steps`));
  assert.match(text, /one CNN per step \(2 CNNs\)/);
  const perDigit = new RegExp(`per digit: ${Array.from({ length: 10 }, (_, d) => `${d}: \\d+\\.\\d%`).join(', ')}`, 'g');
  assert.equal(text.match(perDigit)?.length, 2, 'the probe prints an accuracy for each digit 0–9, for each CNN');
  for (const step of [0, 1]) {
    assert.match(text, new RegExp(`digit probe on the CNN of step ${step}'s features: p = \\d+\\.\\d\\d% on 5000 test digits`));
    assert.match(text, new RegExp(`the same probe on the CNN of step ${step} of the untrained network: p = \\d+\\.\\d\\d%`));
  }
  assert.match(text, /probe: p₀ · p₁ = \d+\.\d\d% \(untrained network: \d+\.\d\d%\)/);
  const onTrain = /training-split sequences: accuracy (\d+\.\d\d)% .*, loss (\d+\.\d{4}) on (\d+) sequences/.exec(text);
  const onTest = /test-split sequences\s*: accuracy (\d+\.\d\d)% .*, loss (\d+\.\d{4}) on (\d+) sequences/.exec(text);
  assert.ok(onTrain && onTest, 'the saved model\'s training-split and test-split numbers are both printed');
  assert.deepEqual([onTrain[3], onTest[3]], ['256', '256'], 'on sets of the run\'s evaluation size');
  const final = FINAL_ACCURACY.exec(executed('03-training').cells.map(stdout).join(''))!;
  assert.equal(onTest[1], final[2], 'the test split is the run\'s evaluation set: notebook 3\'s final figure');
  assert.match(text, /gap, training − test: -?\d+\.\d\d percentage points/);
  // The re-training: both splits and the probes at steps 0, 20 and 40.
  const rows = [...text.matchAll(/^(\d+) \| (\d+\.\d\d)% \| (\d+\.\d\d)% \| \d+\.\d{4} \| \d+\.\d{4} \| \d+\.\d% \| \d+\.\d%$/gm)];
  assert.deepEqual(rows.map((m) => Number(m[1])), [0, 20, 40]);
  assert.match(text, /half of the gain from step 0 to step 40: the product of the digit probes /);
  assertPngOnly(nb, '06');
  const alts = nb.cells.flatMap(pictures).map((p) => p.alt);
  for (const title of ['PCA of the step features · the CNN of step 0', 'PCA of the step features · the CNN of step 1',
    'Digit probe per digit · the CNN of step 0', 'Accuracy per digit pair: the model against the probe',
    'The saved run: training split against test split',
    'Re-training: training split against test split', 'Re-training: the digit probe against the model']) {
    assert.ok(alts.some((a) => a.startsWith(title)), `missing chart ${title}`);
  }
  assert.ok(alts.some((a) => a.startsWith('Upper rows: kernels of step 0; under each, the closest kernel of step 1')),
    'the kernels of step 0 are shown with their closest of step 1');
  assert.match(text, /^steps 0 and 1: mean similarity of each step-0 kernel to its closest step-1 kernel \d\.\d{3} after training/m);
  const size = fs.statSync(path.join(outDir, '06-what-the-network-learned.ipynb')).size;
  assert.ok(size < 1_000_000, `with its outputs notebook 6 is ${size} bytes; keep a notebook under 1 MB`);
});

test('notebook 6 without a saved run stops and says to run notebook 3 first', { skip }, () => {
  const alone = runNotebooks([...stringParam('runDir', path.join(work, 'no-such-run')),
    path.join(notebookDir, '06-what-the-network-learned.ipynb')]);
  assert.equal(alone.status, 1, alone.stderr);
  assert.match(alone.stderr, /cannot load a run from .*no-such-run .*Run notebook 3 \(03-training\.ipynb\) first/);
});

test('re-running the model and training cells leaves the tensor count unchanged', { skip }, () => {
  for (const name of ['02-the-model', '03-training', '04-predictions', '06-what-the-network-learned']) {
    const rerun = reportOf(name).rerun;
    assert.ok(rerun, `${name} has a cell tagged rerun-check`);
    assert.ok(rerun.tensorsBefore > 0, `${name} holds a model`);
    assert.equal(rerun.tensorsAfter, rerun.tensorsBefore, `${name} leaked tensors on re-run`);
  }
});

test('notebook 4 without a saved run stops and says to run notebook 3 first', { skip }, () => {
  const alone = runNotebooks([...stringParam('runDir', path.join(work, 'no-such-run')),
    path.join(notebookDir, '04-predictions.ipynb')]);
  assert.equal(alone.status, 1, alone.stderr);
  assert.match(alone.stderr, /cannot load a run from .*no-such-run .*Run notebook 3 \(03-training\.ipynb\) first/);
});

/**
 * Words that belong to the article's task only: the difference of two digits, read by two CNNs. On a run
 * of another task they would be false. Lines about the article's own figure name its task rightly and are
 * left out.
 */
const ARTICLE_TASK_WORDS = /\bdifferences?\b|\bsubtract|\btwo CNNs\b|\b2 CNNs\b|\bboth CNNs\b|first − second/i;

/** The outputs of a notebook a reader sees, line by line: printed text and the text stand-ins of pictures. */
function outputLines(nb: Notebook): string[] {
  const text = nb.cells.flatMap((c) => (c.outputs ?? []).map((o) => (o.output_type === 'stream' ? join(o.text)
    : join(o.data?.['text/plain']))));
  return text.join('\n').split('\n').filter((line) => line.trim() !== '');
}

test('notebooks 3, 4 and 6 follow a run of the sum of 3 digits: no output names the difference or two CNNs', { skip }, () => {
  const sumRun = path.join(work, 'sum-run');
  const out = path.join(work, 'sum-executed');
  const reportFile = path.join(work, 'report-sum.json');
  const run = runNotebooks(['--small', '-p', "preset='fast'",
    '-p', "overrides={ task: 'sum', seqLength: 3, numSteps: 300, evalSize: 1000, sharedCnn: false }",
    ...stringParam('runDir', sumRun), '-p', 'probeTrainSize=2000', '-p', 'probeTestSize=1000',
    '--output-dir', out, '--report', reportFile,
    ...['03-training', '04-predictions', '06-what-the-network-learned'].map((n) => path.join(notebookDir, `${n}.ipynb`))]);
  assert.ok(fs.existsSync(reportFile), `run-notebooks wrote no report (exit ${run.status}):\n${run.stderr}`);
  const sumReport = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as Report;
  for (const notebook of sumReport.notebooks) assert.deepEqual(notebook.errors, [], `${notebook.notebook} failed`);
  assert.equal(run.status, 0, run.stderr);
  // The saved run has the preset's settings, --small's over them, and the overrides over those.
  const saved = JSON.parse(fs.readFileSync(path.join(sumRun, 'run.json'), 'utf8')) as
    { task: string; crnnConfig: { seqLength: number; numClasses: number }; trainConfig: { numSteps: number; lrSchedule: string } };
  assert.deepEqual([saved.task, saved.crnnConfig.seqLength, saved.crnnConfig.numClasses, saved.trainConfig.numSteps],
    ['sum', 3, 28, 300], 'notebook 3 trained the sum of 3 digits for 300 steps');
  // The preset's settings stay where the overrides do not reach; sharedCnn is overridden, so there are 3 CNNs.
  assert.equal(saved.trainConfig.lrSchedule, 'one-cycle', 'the overrides went over preset fast');
  const nb03 = readNotebook(path.join(out, '03-training.ipynb'));
  const nb04 = readNotebook(path.join(out, '04-predictions.ipynb'));
  const nb06 = readNotebook(path.join(out, '06-what-the-network-learned.ipynb'));
  for (const [name, nb] of [['03', nb03], ['04', nb04], ['06', nb06]] as const) {
    const wrong = outputLines(nb).filter((line) => ARTICLE_TASK_WORDS.test(line) && !/\barticle/i.test(line));
    assert.deepEqual(wrong, [], `notebook ${name} prints what holds for the article's task only`);
  }
  const text03 = nb03.cells.map(stdout).join('');
  assert.match(text03, /task: sum of T = 3 digits, 28 classes/);
  // Notebook 4 reads the task and T from the run, and measures notebook 3's final figure again.
  const text04 = nb04.cells.map(stdout).join('');
  assert.match(text04, /task: sum of T = 3 digits \(28 classes\)/, 'notebook 4 read the task and T from the run');
  const match = ACCURACY_04.exec(text04);
  assert.ok(match, 'the accuracy line is printed');
  assert.equal(match[2], FINAL_ACCURACY.exec(text03)![2], 'the same accuracy as notebook 3\'s final figure');
  const alts = nb04.cells.flatMap(pictures).map((p) => p.alt);
  assert.ok(alts.some((a) => /^\d \+ \d \+ \d = \d+, predicted \d+ \(/m.test(a)), 'sequences of three digits, captioned with their sum');
  assert.ok(alts.some((a) => a.startsWith('Accuracy per true sum · sum of the 3 digits')), 'the per-class chart is of the sum');
  assert.ok(alts.some((a) => a.startsWith('Confusion matrix · predicted sum · true sum')));
  assert.ok(alts.some((a) => a.startsWith('Mistakes per (first, second) digit · ')), 'the digit-pair grid works for T = 3');
  assertMistakeGrids(nb04, text04);
  // Notebook 6 looks at three CNNs: every pair of steps, each probe, and the product over the three steps.
  const text06 = nb06.cells.map(stdout).join('');
  assert.match(text06, /one CNN per step \(3 CNNs\)/);
  assert.match(text06, /it was trained on the sum of each sequence \(28 classes\)/);
  for (const [s, t] of [[0, 1], [0, 2], [1, 2]]) {
    assert.match(text06, new RegExp(`^steps ${s} and ${t}: mean similarity`, 'm'), `the kernels of steps ${s} and ${t} are compared`);
  }
  for (const step of [0, 1, 2]) {
    assert.match(text06, new RegExp(`digit probe on the CNN of step ${step}'s features: p = \\d+\\.\\d\\d%`));
  }
  assert.match(text06, /^probe: p₀ · p₁ · p₂ = \d+\.\d\d%/m, 'the product runs over the three steps');
  const alts06 = nb06.cells.flatMap(pictures).map((p) => p.alt);
  for (const t of [1, 2]) {
    assert.ok(alts06.some((a) => a.startsWith(`Upper rows: kernels of step 0; under each, the closest kernel of step ${t}`)),
      `the kernels of step 0 are matched with those of step ${t}`);
  }
});

test('-p injects a cell right after the parameters cell; unknown names and non-literals are refused', { skip }, () => {
  const file = path.join(work, 'params.ipynb');
  writeNotebook(file, [
    code('a', "console.log('before');"),
    code('p', "let numSteps = 10;\nlet label = 'default';\nlet settings: object = {};\nconst fixed = 1;", ['parameters']),
    { cell_type: 'markdown', id: 'b', metadata: {}, source: 'between' },
    code('c', 'console.log(`numSteps ${numSteps}, label ${label}, settings ${JSON.stringify(settings)}`);'),
  ]);
  const out = path.join(work, 'params-out');
  const run = runNotebooks(['-p', 'numSteps=1_000', '-p', "label='a b'",
    '-p', "settings={ task: 'sum', filters: [8, 8], nested: { on: true }, }", '--output-dir', out, file]);
  assert.equal(run.status, 0, run.stderr);
  const nb = readNotebook(path.join(out, 'params.ipynb'));
  assert.deepEqual(nb.cells.map((c) => c.metadata.tags ?? []), [[], ['parameters'], ['injected-parameters'], [], []]);
  assert.match(join(nb.cells[2].source), /^ {2}numSteps = 1_000;\n {2}label = 'a b';\n {2}settings = \{ task: 'sum', /m);
  assert.deepEqual(nb.cells[2].outputs, [], 'the injected cell prints nothing');
  assert.equal(stdout(nb.cells[4]),
    'numSteps 1000, label a b, settings {"task":"sum","filters":[8,8],"nested":{"on":true}}\n');
  assert.deepEqual(nb.cells.map((c) => c.execution_count), [1, 2, 3, undefined, 4]);

  const unknown = runNotebooks(['-p', 'numStep=5', file]);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown parameter numStep: not assigned in the `parameters` cell/);
  assert.match(unknown.stderr, /params\.ipynb: numSteps, label, settings$/m, 'the known parameters are listed');
  const constant = runNotebooks(['-p', 'fixed=5', file]);
  assert.equal(constant.status, 2);
  assert.match(constant.stderr, /fixed is declared with const there/);
  const bare = runNotebooks(['-p', 'label=abc', file]);
  assert.equal(bare.status, 2);
  assert.match(bare.stderr, /abc is not a TypeScript literal/);
  for (const value of ['{ task: sum }', '{ task: 1 seqLength: 3 }', '{ ...other }', "{ task: 'sum' }; run()"]) {
    const refused = runNotebooks(['-p', `settings=${value}`, file]);
    assert.equal(refused.status, 2, value);
    assert.match(refused.stderr, /is not a TypeScript literal/, value);
  }
});

test('--write leaves the injected cell out of the saved notebook', { skip }, () => {
  const file = path.join(work, 'written.ipynb');
  writeNotebook(file, [
    code('p', 'let numSteps = 10;', ['parameters']),
    code('c', 'console.log(`numSteps ${numSteps}`);'),
  ]);
  const run = runNotebooks(['-p', 'numSteps=7', '--write', file]);
  assert.equal(run.status, 0, run.stderr);
  const nb = readNotebook(file);
  assert.deepEqual(nb.cells.map((c) => c.id), ['p', 'c']);
  assert.equal(join(nb.cells[0].source), 'let numSteps = 10;');
  assert.deepEqual(nb.cells.map((c) => c.execution_count), [1, 2], 'numbered without the injected cell');
  assert.equal(stdout(nb.cells[1]), 'numSteps 7\n');
});

test('--small keeps its model in a temporary folder and numbers the executed cells', { skip }, () => {
  const file = path.join(work, 'where.ipynb');
  writeNotebook(file, [
    code('a', "let runDir = '../runs/notebook-model';\nlet numSteps = 10_000;\nlet overrides: object = {};", ['parameters']),
    { cell_type: 'markdown', id: 'b', metadata: {}, source: 'between' },
    code('c', "console.log('run dir: ' + runDir);\nconsole.log('steps: ' + numSteps);\n" +
      "console.log('overrides: ' + JSON.stringify(overrides));"),
  ]);
  const out = path.join(work, 'where-out');
  const run = runNotebooks(['--small', '-p', "overrides={ task: 'sum', numSteps: 7 }", '--output-dir', out, file]);
  assert.equal(run.status, 0, run.stderr);
  const nb = readNotebook(path.join(out, 'where.ipynb'));
  const text = nb.cells.map(stdout).join('');
  const runDirUsed = /run dir: (.+)/.exec(text)?.[1] ?? '';
  assert.ok(runDirUsed.startsWith(path.join(os.tmpdir(), 'crnn-notebook-run-')), `--small ran with runDir ${runDirUsed}`);
  assert.ok(!fs.existsSync(runDirUsed), 'the temporary run folder is removed afterwards');
  assert.match(text, /steps: 40/, 'the small configuration sets the parameters');
  assert.match(text, /^overrides: \{"numSteps":7,"batchSize":32,"evalEvery":20,"evalSize":256,"task":"sum"\}$/m,
    'an object given with -p is spread over the small one, its names winning');
  assert.deepEqual(nb.cells.map((c) => c.execution_count), [1, 2, undefined, 3]);
});

test('the executor fails on a notebook whose cell throws, naming the error', { skip }, () => {
  const file = path.join(work, 'broken.ipynb');
  writeNotebook(file, [code('a', "throw new Error('the notebook is broken');")]);
  const broken = runNotebooks([file]);
  assert.equal(broken.status, 1);
  assert.match(broken.stderr, /broken\.ipynb: FAILED/);
  assert.match(broken.stderr, /the notebook is broken/);
});

test('the parameters cells of notebooks 3, 4 and 6 hold plain let assignments only', () => {
  for (const name of ['03-training', '04-predictions', '06-what-the-network-learned']) {
    const nb = readNotebook(path.join(notebookDir, `${name}.ipynb`));
    const cells = nb.cells.filter((c) => c.metadata.tags?.includes('parameters'));
    assert.equal(cells.length, 1, `${name} has one cell tagged parameters`);
    const lines = join(cells[0].source).split('\n').filter((l) => l.trim() !== '' && !l.startsWith('//'));
    for (const line of lines) {
      assert.match(line, /^let [A-Za-z]\w*(: [^=]+)? = [^;]+;$/, `${name}: not a plain assignment: ${line}`);
    }
    assert.ok(lines.some((l) => l.startsWith('let runDir = ')), `${name} takes runDir as a parameter`);
  }
});

test('notebook 3 takes a preset and overrides by name, and its default run sees each image in dozens of sequences', () => {
  const nb = readNotebook(path.join(notebookDir, '03-training.ipynb'));
  const parameters = join(nb.cells.find((c) => c.metadata.tags?.includes('parameters'))!.source);
  const assignments = parameters.split('\n').filter((l) => l.startsWith('let '));
  assert.deepEqual(assignments, [
    "let preset: PresetName = 'article';",
    'let overrides: Partial<Settings> = {};',
    "let runDir = '../runs/notebook-model';",
  ]);
  const { model, train } = presetConfigs('article');
  const [crnn, training] = [resolveCrnnConfig(model), resolveTrainConfig(train)];
  const appearances = training.numSteps * training.batchSize * crnn.seqLength / 60_000;
  assert.ok(appearances >= 24 && appearances < 100, `each image appears in ${appearances} sequences`);
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
    assert.ok(!code.some((c) => /process\.env/.test(join(c.source))), `${name} reads no environment variables`);
    assert.ok(!nb.cells.some((c) => c.metadata.tags?.includes('injected-parameters')), `${name} has no injected cell`);
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

test('notebook 5 compares a sweep\'s settings over seeds and says which differences exceed the spread', { skip }, () => {
  // A tiny sweep as the three commands of the notebook make it: one setting varied at a time.
  const sweepDir = path.join(work, 'sweep');
  const sweep = path.join(root, 'dist', 'bin', 'sweep.js');
  const tiny = ['numSteps=20', 'batchSize=16', 'evalSize=64', 'evalEvery=10', 'filters=2,2', 'denseUnits=8',
    'hiddenSize=8'].flatMap((s) => ['--set', s]);
  for (const [grid, seeds] of [['lrSchedule=cosine,constant', '2'], ['sharedCnn=false,true', '1'],
    ['cell=simple,gru', '1']]) {
    const made = spawnSync(process.execPath, [sweep, '--grid', grid, '--seeds', seeds, ...tiny, '--root', sweepDir],
      { encoding: 'utf8', timeout: 300_000 });
    assert.equal(made.status, 0, made.stderr);
  }
  const out = path.join(work, 'experiments-executed');
  const run = runNotebooks(['--small', ...stringParam('sweepDir', sweepDir), ...stringParam('studyDir', path.join(work, 'study-5')),
    '--output-dir', out, path.join(notebookDir, '05-experiments.ipynb')]);
  assert.equal(run.status, 0, run.stderr);
  const nb = readNotebook(path.join(out, '05-experiments.ipynb'));
  const text = nb.cells.map(stdout).join('');
  assert.match(text, /^6 runs, .* of training in all/m);
  // Two seeds each: an interval and a verdict.
  assert.match(text, /^lrSchedule=constant vs lrSchedule=cosine: [+−]\d+\.\d\d points \(95% interval [+−]\d+\.\d\d … [+−]\d+\.\d\d\), (within|larger than) the spread between seeds$/m);
  // One seed of the shared CNN: no interval to judge by.
  assert.match(text, /^sharedCnn=true vs sharedCnn=false: [+−]\d+\.\d\d points, one seed: no interval$/m);
  assert.match(text, /^cell=gru vs cell=simple: /m);
  assert.match(text, /^hiddenSize=64 vs hiddenSize=256: /m, 'the small study of its own');
  // The committed ablation: each addition alone, all of them together over three seeds.
  assert.match(text, /^kernelSize=5 vs default: [+−]\d+\.\d\d points/m);
  assert.match(text, /^all 7 together vs default: [+−]\d+\.\d\d points \(95% interval [+−]\d+\.\d\d … [+−]\d+\.\d\d\), (within|larger than) the spread between seeds$/m);
  const alts = nb.cells.flatMap(pictures).map((p) => p.alt);
  for (const setting of ['lrSchedule', 'sharedCnn', 'cell']) {
    assert.ok(alts.some((a) => a.includes(`Runs by ${setting}`)), `a chart of the runs by ${setting}`);
  }
});
