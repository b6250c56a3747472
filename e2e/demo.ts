/**
 * The browser test of the page of a trained run (demo/, bin/demo.ts), in
 * headless Chromium: two tiny runs are trained here with the CLI, their
 * pages are built and served three ways (`demo serve`, `demo build` behind
 * `python3 -m http.server`, and `serveSite`), and what the page computes is
 * compared with tfjs-node on the same 28×28 inputs. Prints one PASS/FAIL
 * line per check and `N passed, N failed`; exits non-zero when a check failed.
 *
 *   node dist/e2e/demo.js
 *   node dist/e2e/demo.js --screenshot RUN_DIR    also write docs/demo-page.png from the page of RUN_DIR
 *
 * Environment: CRNN_CHROMIUM (default /usr/bin/chromium).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './browser';
import { hooks, open } from './demo-page';
import type { CheckResult } from './checks';
import { tf } from '../lib/tf';
import { loadRun } from '../lib/runs/persist';
import { stepFeatures } from '../lib/evaluate/probe';
import { buildSite, serveSite } from '../lib/demo/site';
import { centreOfMass, inkBox, MNIST_CENTRE } from '../lib/demo/preprocess';
import { answerTable, digitProbabilities, digitsFromAnswer } from '../lib/demo/readings';
import { checkSiteData, decodeDigits, type DemoHooks, type SiteData } from '../lib/demo/site-data';
import { getTask } from '../lib/data/tasks';
import type { DigitSet } from '../lib/types';

const REPO = path.resolve(__dirname, '..', '..');
const DOCS_SCREENSHOT = path.join(REPO, 'docs', 'demo-page.png');
const ARTIFACTS = path.join(REPO, 'artifacts', 'e2e');
/** The page's probabilities against tfjs-node's, on the same inputs. */
const TOLERANCE = 1e-4;
/** Tiny runs: a few steps of small networks, enough to give the page something to read. */
const TINY = ['--steps', '30', '--batch-size', '32', '--eval-every', '30', '--eval-size', '200',
  '--filters', '4,8', '--dense-units', '32', '--hidden-size', '32', '--no-progress'];

class Report {
  passed = 0;
  failed = 0;

  add(result: CheckResult): void {
    if (result.status === 'pass') this.passed++;
    if (result.status === 'fail') this.failed++;
    console.log(`${result.status.toUpperCase().padEnd(4)} ${result.name} — ${result.detail}`);
  }

  /** Runs `check`, which returns a detail line or throws what failed. */
  async check(name: string, check: () => Promise<string> | string): Promise<void> {
    try {
      this.add({ name, status: 'pass', detail: await check() });
    } catch (err) {
      this.add({ name, status: 'fail', detail: (err as Error).message });
    }
  }
}

function ensure(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  ensure(a.length === b.length, `lengths differ: ${a.length} and ${b.length}`);
  let gap = 0;
  for (let i = 0; i < a.length; i++) gap = Math.max(gap, Math.abs(a[i] - b[i]));
  return Number.isNaN(gap) ? Infinity : gap;
}

/** Runs `node dist/bin/<cli>.js args…` to its end. @throws Error with its output when it fails. */
function runCli(cli: string, args: string[], cwd = REPO): string {
  const result = spawnSync(process.execPath, [path.join(REPO, 'dist', 'bin', `${cli}.js`), ...args], { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${cli} ${args.join(' ')} failed (${result.status}): ${result.stderr}${result.stdout}`);
  return result.stdout;
}

/** Starts a server process and waits for the line that gives its address. */
async function startServer(command: string, args: string[], address: RegExp): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(command, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} ${args.join(' ')} gave no address in 3 minutes: ${output}`)), 180_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const match = address.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} ${args.join(' ')} ended (${code}) before serving: ${output}`));
    });
  });
  return { child, url };
}

/** What the page of one run must compute, from tfjs-node. */
interface Reference {
  name: string;
  runDir: string;
  model: import('@tensorflow/tfjs').LayersModel;
  site: SiteData;
  /** The sample of test digits the site ships, as a DigitSet. */
  digits: DigitSet;
}

async function reference(name: string, runDir: string, url: string): Promise<Reference> {
  const site = checkSiteData(await (await fetch(new URL('site.json', url))).json());
  const bytes = new Uint8Array(await (await fetch(new URL(site.digits.file, url))).arrayBuffer());
  const { labels, images } = decodeDigits(bytes, site.digits);
  const { model } = await loadRun(runDir);
  return { name, runDir, model, site, digits: { labels, images, count: site.digits.count, height: site.digits.height, width: site.digits.width } };
}

/** tfjs-node's answer probabilities for one sequence of inputs [T][h · w]. */
function nodeProbabilities(ref: Reference, inputs: number[][]): number[] {
  const { seqLength, height, width } = ref.site.run.crnnConfig;
  return tf.tidy(() => Array.from((ref.model.predict(tf.tensor5d(inputs.flat(), [1, seqLength, height, width, 1])) as import('@tensorflow/tfjs').Tensor).dataSync()));
}

/** The digit readings the page must show for test digits, from tfjs-node. */
function nodeReadings(ref: Reference, sampleIndices: number[], probabilities: number[]): number[][] {
  const { probe, run } = ref.site;
  if (probe === null) return digitsFromAnswer(probabilities, answerTable(getTask(run.task, run.crnnConfig.seqLength), run.crnnConfig.seqLength)!);
  return sampleIndices.map((index, step) => {
    const features = stepFeatures(ref.model, ref.digits, [index], step);
    try {
      return digitProbabilities(features.dataSync(), probe.readouts[step]);
    } finally {
      features.dispose();
    }
  });
}

/** Waits for a prediction after `before` predictions. */
async function nextPrediction(page: Page, before: number): Promise<DemoHooks> {
  await page.waitForFunction((n) => window.crnnDemo.predictions > n, before, { timeout: 60_000 });
  return hooks(page);
}

const BACKEND_WORDS: Record<string, string> = { webgl: 'WebGL', wasm: 'WebAssembly', cpu: 'CPU' };

/**
 * The page of `ref` on one backend (undefined: its own choice): it shows the
 * backend, and three random test sequences from its button are the sample's
 * digits, with probabilities and digit readings equal to tfjs-node's.
 */
async function checkSequences(report: Report, browser: Browser, ref: Reference, url: string, backend?: string): Promise<void> {
  const label = `${ref.name}, ${backend ?? 'automatic backend'}`;
  const page = await open(browser, backend === undefined ? url : `${url}?backend=${backend}`);
  try {
    const start = await hooks(page);
    await report.check(`${label}: the page is ready and shows its backend`, async () => {
      ensure(start.state === 'ready', `state ${start.state}: ${start.error}`);
      ensure(backend === undefined || start.backend === backend, `backend ${start.backend}, asked for ${backend}`);
      const shown = await page.innerText('#backend');
      ensure(shown.includes(BACKEND_WORDS[start.backend!]), `#backend says "${shown}" for ${start.backend}`);
      return shown.replace(/\s+/g, ' ').trim();
    });
    if (start.state !== 'ready') return;
    const { seqLength } = ref.site.run.crnnConfig;
    const pixels = ref.digits.height * ref.digits.width;
    await report.check(`${label}: test sequences give tfjs-node's probabilities and digit readings (within ${TOLERANCE})`, async () => {
      const gaps: string[] = [];
      let state = start;
      for (let k = 0; k < 3; k++) {
        await page.click('#sample');
        state = await nextPrediction(page, state.predictions);
        const indices = state.sampleIndices.filter((i): i is number => i !== null);
        ensure(state.sampleIndices.length === seqLength && indices.length === seqLength,
          `sample indices ${JSON.stringify(state.sampleIndices)}`);
        state.inputs.forEach((input, t) => {
          const digit = Array.from(ref.digits.images.subarray(indices[t] * pixels, (indices[t] + 1) * pixels), (v) => v / 255);
          ensure(maxAbsDiff(input, digit) < 1e-7, `step ${t} is not test digit ${indices[t]} as it is`);
        });
        const expected = nodeProbabilities(ref, state.inputs);
        const gap = maxAbsDiff(state.probabilities, expected);
        ensure(gap <= TOLERANCE, `digits ${indices.join(', ')}: probabilities off by ${gap.toExponential(2)}`);
        const readingGap = maxAbsDiff(state.digitReadings.flat(), nodeReadings(ref, indices, expected).flat());
        ensure(readingGap <= TOLERANCE, `digits ${indices.join(', ')}: digit readings (${state.readingsFrom}) off by ${readingGap.toExponential(2)}`);
        const labels = indices.map((i) => ref.digits.labels[i]);
        const truth = await page.textContent('#truth') ?? '';
        ensure(truth.startsWith(`Test digits ${labels.join(', ')}`), `#truth says "${truth}" for digits ${labels.join(', ')}`);
        gaps.push(`${gap.toExponential(1)}/${readingGap.toExponential(1)}`);
      }
      return `3 sequences, readings from the ${state.readingsFrom}; largest gaps (answer/digits): ${gaps.join(', ')}`;
    });
  } finally {
    await page.close();
  }
}

/** Draws a stroke through `points` (fractions of the canvas) on canvas `index` with the mouse. */
async function drawStroke(page: Page, index: number, points: [number, number][]): Promise<void> {
  const box = await page.locator('canvas.draw').nth(index).boundingBox();
  ensure(box !== null, `no drawing canvas ${index}`);
  const at = ([x, y]: [number, number]) => [box.x + x * box.width, box.y + y * box.height] as const;
  await page.mouse.move(...at(points[0]));
  await page.mouse.down();
  for (const point of points.slice(1)) await page.mouse.move(...at(point), { steps: 8 });
  await page.mouse.up();
}

/**
 * Strokes drawn with the mouse, off-centre: the image fed has its ink scaled
 * into 20 px and its centre of mass within half a pixel of MNIST's (14, 14)
 * (so within a pixel of the field's middle); each stroke updates the
 * prediction, equal to tfjs-node's.
 */
async function checkDrawing(report: Report, browser: Browser, ref: Reference, url: string): Promise<void> {
  const page = await open(browser, url);
  try {
    await report.check(`${ref.name}: a stroke drawn with the mouse is centred by its centre of mass and updates the prediction`, async () => {
      await page.click('#clear');
      await page.waitForFunction(() => window.crnnDemo.sampleIndices.every((i) => i === null));
      let state = await hooks(page);
      // A 7 in the top-left corner of the first canvas.
      await drawStroke(page, 0, [[0.08, 0.1], [0.45, 0.1], [0.2, 0.55]]);
      state = await page.waitForFunction((n) => window.crnnDemo.predictions > n && window.crnnDemo.inputs[0]?.some((v) => v > 0),
        state.predictions).then(() => hooks(page));
      const side = ref.site.run.crnnConfig.width;
      const fed = { width: side, height: side, pixels: Float32Array.from(state.inputs[0]) };
      const centre = centreOfMass(fed)!;
      const box = inkBox(fed)!;
      ensure(Math.abs(centre.x - MNIST_CENTRE) <= 0.5 && Math.abs(centre.y - MNIST_CENTRE) <= 0.5,
        `centre of mass (${centre.x.toFixed(2)}, ${centre.y.toFixed(2)})`);
      ensure(Math.max(box.right - box.left, box.bottom - box.top) === 20, `ink box ${JSON.stringify(box)}`);
      const first = state.probabilities;
      // A 1 in the bottom-right corner of the second canvas.
      await drawStroke(page, 1, [[0.8, 0.5], [0.78, 0.95]]);
      state = await nextPrediction(page, state.predictions);
      ensure(maxAbsDiff(first, state.probabilities) > 1e-6, 'the second stroke left the probabilities as they were');
      const gap = maxAbsDiff(state.probabilities, nodeProbabilities(ref, state.inputs));
      ensure(gap <= TOLERANCE, `probabilities of the drawing off by ${gap.toExponential(2)}`);
      return `centre of mass (${centre.x.toFixed(2)}, ${centre.y.toFixed(2)}), ink ${box.right - box.left}×${box.bottom - box.top} px; ` +
        `${state.predictions} predictions; off tfjs-node by ${gap.toExponential(1)}`;
    });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, `demo-${ref.name}-drawn.png`), fullPage: true });
  } finally {
    await page.close();
  }
}

/** A copy of site `dir` damaged by `damage`, served; the page must say what is wrong. */
async function checkBrokenSite(report: Report, browser: Browser, dir: string, what: string,
    damage: (copy: string) => void, expected: RegExp): Promise<void> {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'crnn-demo-broken-'));
  fs.cpSync(dir, copy, { recursive: true });
  damage(copy);
  const { server, url } = await serveSite(copy, 0);
  try {
    await report.check(`a site with ${what} shows a clear error, not a blank page`, async () => {
      const page = await open(browser, url);
      try {
        const state = await hooks(page);
        ensure(state.state === 'error', `state ${state.state}`);
        const shown = await page.innerText('#error');
        ensure(await page.isVisible('#error'), '#error is hidden');
        ensure(expected.test(shown), `#error says "${shown}"`);
        return shown.replace(/\s+/g, ' ').slice(0, 160);
      } finally {
        await page.close();
      }
    });
  } finally {
    server.close();
    fs.rmSync(copy, { recursive: true, force: true });
  }
}

/** The README's picture: the page of `runDir`, a fixed test sequence. */
async function screenshot(browser: Browser, runDir: string, work: string): Promise<void> {
  const built = await buildSite(runDir, path.join(work, 'screenshot-site'));
  const { server, url } = await serveSite(built.dir, 0);
  try {
    // Test digits 7 and 3 of the sample; the page's own height, not the window's.
    const page = await open(browser, `${url}?sample=2,12`);
    await page.setViewportSize({ width: 1280, height: 600 });
    await page.screenshot({ path: DOCS_SCREENSHOT, fullPage: true });
    await page.close();
    console.log(`wrote ${path.relative(REPO, DOCS_SCREENSHOT)}`);
  } finally {
    server.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { screenshot: { type: 'string' } } });
  const report = new Report();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'crnn-demo-e2e-'));
  const children: ChildProcess[] = [];
  const models: Reference['model'][] = [];
  let browser: Browser | undefined;
  try {
    browser = await launchChromium(process.env.CRNN_CHROMIUM ?? '/usr/bin/chromium');
    if (values.screenshot !== undefined) {
      await screenshot(browser, values.screenshot, work);
      return;
    }
    // Two tiny runs: a shared CNN on the difference (T = 2), and a CNN per step
    // with batch normalisation on the sum of three digits; both record a digit probe.
    const runA = path.join(work, 'runs', 'shared-difference');
    const runB = path.join(work, 'runs', 'per-step-sum');
    runCli('train', ['--preset', 'fast', ...TINY, '--seed', '1', '--out', runA]);
    runCli('train', [...TINY, '--task', 'sum', '--seq-length', '3', '--batch-norm', '--seed', '2', '--out', runB]);
    // The second run without its probe: the page reads the digits off the answer.
    const runC = path.join(work, 'runs', 'per-step-sum-no-probe');
    fs.cpSync(runB, runC, { recursive: true });
    const record = JSON.parse(fs.readFileSync(path.join(runC, 'run.json'), 'utf8')) as { digitProbe?: unknown };
    delete record.digitProbe;
    fs.writeFileSync(path.join(runC, 'run.json'), JSON.stringify(record));

    // Run A through `npm run demo`'s command.
    const served = await startServer(process.execPath, [path.join(REPO, 'dist', 'bin', 'demo.js'), 'serve', runA, '--port', '0'],
      /serving the page at (http:\/\/\S+\/)/);
    children.push(served.child);
    const refA = await reference('shared CNN, difference', runA, served.url);
    models.push(refA.model);
    for (const backend of [undefined, 'webgl', 'wasm', 'cpu']) await checkSequences(report, browser, refA, served.url, backend);
    await checkDrawing(report, browser, refA, served.url);

    // Run B built by `npm run demo:build` and served by python3 -m http.server.
    const siteB = path.join(work, 'site-b');
    runCli('demo', ['build', runB, '--out', siteB]);
    const python = await startServer('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', siteB],
      /Serving HTTP on \S+ port (\d+)/);
    children.push(python.child);
    const urlB = `http://127.0.0.1:${python.url}/`;
    const refB = await reference('per-step CNNs, sum of 3', runB, urlB);
    models.push(refB.model);
    await checkSequences(report, browser, refB, urlB);

    // Run C built and served in this process.
    const siteC = await buildSite(runC, path.join(work, 'site-c'));
    const { server, url: urlC } = await serveSite(siteC.dir, 0);
    try {
      const refC = await reference('no probe', runC, urlC);
      models.push(refC.model);
      await checkSequences(report, browser, refC, urlC);
    } finally {
      server.close();
    }

    const weights = (copy: string) => path.join(copy, 'model', 'weights.bin');
    await checkBrokenSite(report, browser, siteC.dir, 'no model.json', (copy) => fs.rmSync(path.join(copy, 'model', 'model.json')),
      /model\/model\.json could not be loaded.*404/s);
    await checkBrokenSite(report, browser, siteC.dir, 'a truncated weights file', (copy) => fs.truncateSync(weights(copy), 1000),
      /model\/model\.json could not be loaded/);
    await checkBrokenSite(report, browser, siteC.dir, 'weights overwritten with NaN', (copy) =>
      fs.writeFileSync(weights(copy), Buffer.alloc(fs.statSync(weights(copy)).size, 0xff)), /weights file is damaged/);
    await checkBrokenSite(report, browser, siteC.dir, 'a corrupt site.json', (copy) => fs.writeFileSync(path.join(copy, 'site.json'), '{"format": "crnn'),
      /site\.json is not valid JSON/);
    await checkBrokenSite(report, browser, siteC.dir, 'no site.json', (copy) => fs.rmSync(path.join(copy, 'site.json')),
      /site\.json could not be fetched: HTTP 404/);
  } catch (err) {
    report.add({ name: 'the browser test of the page ran to its end', status: 'fail', detail: (err as Error).stack ?? String(err) });
  } finally {
    await browser?.close();
    for (const child of children) child.kill('SIGTERM');
    for (const model of models) model.dispose();
    fs.rmSync(work, { recursive: true, force: true });
  }
  if (values.screenshot === undefined) console.log(`${report.passed} passed, ${report.failed} failed`);
  process.exitCode = report.failed > 0 ? 1 : 0;
}

void main();
