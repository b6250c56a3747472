/**
 * The browser page of a trained run: draw T digits (or take a random test
 * sequence), see the 28×28 images the model is fed, its answer with the
 * probability of every class, and how it reads each digit.
 *
 * Bundled by esbuild into app.js (lib/demo/site.ts); it reads site.json, the
 * run's model.json and weights as the trainer saved them, and the sample of
 * test digits, all from its own folder. The model's custom layers come from
 * lib/model/layers.ts, the same code that trained it in Node.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import '../lib/model/layers';
import { greyFromRgba, mnistInput } from '../lib/demo/preprocess';
import { answerTable, digitProbabilities, digitsFromAnswer, ordinal, taskFormula, type AnswerTable } from '../lib/demo/readings';
import {
  checkSiteData, decodeDigits, SITE_FILE, type DemoHooks, type DigitSample, type SiteData,
} from '../lib/demo/site-data';
import { getTask } from '../lib/data/tasks';
import { formatSetting, settings } from '../lib/config';
import { formatDuration } from '../lib/view/text';
import type { Task } from '../lib/types';

declare global {
  interface Window {
    crnnDemo: DemoHooks;
  }
}

/** Backends in the order they are tried: the first that starts is used. */
const BACKENDS = ['webgl', 'wasm', 'cpu'] as const;
const BACKEND_NAMES: Record<string, string> = { webgl: 'WebGL', wasm: 'WebAssembly', cpu: 'CPU (JavaScript)' };
/** Drawing canvases are this many times the model's image size. */
const DRAW_SCALE = 7;
/** Pen width on the drawing canvas: about MNIST's strokes once scaled into 20×20. */
const PEN_WIDTH = 16;

const hooks: DemoHooks = {
  state: 'loading', error: null, backend: null, predictions: 0, readyMs: null, inputs: [], probabilities: [],
  digitReadings: [], readingsFrom: null, sampleIndices: [],
};
window.crnnDemo = hooks;

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`the page has no #${id}: index.html and app.js do not match`);
  return found as T;
}

function create<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const percent = (p: number, digits = 1) => `${(100 * p).toFixed(digits)}%`;

async function fetchOk(url: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new Error(`${url} could not be fetched (${(err as Error).message})`);
  }
  if (!response.ok) throw new Error(`${url} could not be fetched: HTTP ${response.status} ${response.statusText}`);
  return response;
}

async function fetchJson(url: string): Promise<unknown> {
  const text = await (await fetchOk(url)).text();
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${url} is not valid JSON (${(err as Error).message})`);
  }
}

/**
 * The backend asked for with ?backend=NAME, else the first of WebGL, WASM
 * and CPU that starts here.
 * @returns its name and how it was chosen.
 */
async function startBackend(): Promise<{ name: string; how: string }> {
  // The WASM binaries sit in wasm/ next to the page (no CDN).
  setWasmPaths(new URL('wasm/', document.baseURI).href);
  const asked = new URLSearchParams(location.search).get('backend');
  if (asked !== null && !(BACKENDS as readonly string[]).includes(asked)) {
    throw new Error(`?backend=${asked} is not a backend of this page; use one of ${BACKENDS.join(', ')}`);
  }
  for (const name of asked === null ? BACKENDS : [asked]) {
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return { name, how: asked === null ? 'chosen automatically: the first of WebGL, WebAssembly and CPU that starts here' : `asked for with ?backend=${asked}` };
      }
    } catch {
      // Not available here: try the next one.
    }
  }
  throw new Error(asked === null ? 'no TensorFlow.js backend starts in this browser' : `the ${asked} backend does not start in this browser`);
}

/** The model with the digit probes' feature layers as extra outputs. */
class Reader {
  private readonly net: tf.LayersModel;
  /** Distinct feature layers, in the order of the extra outputs. */
  private readonly layers: string[];

  constructor(model: tf.LayersModel, private readonly site: SiteData) {
    this.layers = site.probe === null ? [] : [...new Set(site.probe.featureLayers)];
    const outputs = [model.outputs[0], ...this.layers.map((name) => model.getLayer(name).output as tf.SymbolicTensor)];
    this.net = tf.model({ inputs: model.inputs, outputs });
  }

  /**
   * The answer's probabilities and each step's CNN features (empty without a probe) for one sequence.
   * @param inputs [T][height · width] grey levels in [0, 1].
   */
  async read(inputs: Float32Array[]): Promise<{ probabilities: Float32Array; features: Float32Array[] }> {
    const { seqLength, height, width } = this.site.run.crnnConfig;
    const outputs = tf.tidy(() => {
      const pixels = new Float32Array(seqLength * height * width);
      inputs.forEach((input, t) => pixels.set(input, t * height * width));
      const out = this.net.predict(tf.tensor5d(pixels, [1, seqLength, height, width, 1]));
      return Array.isArray(out) ? out : [out];
    });
    try {
      const values = await Promise.all(outputs.map((output) => output.data() as Promise<Float32Array>));
      const probe = this.site.probe;
      const features = probe === null ? [] : probe.featureLayers.map((layer, t) => {
        const k = this.layers.indexOf(layer) + 1;
        // [rows, d]: a shared CNN's layer sees the T images of the sequence as rows, a step's own CNN one row.
        const [rows, d] = outputs[k].shape as [number, number];
        const row = rows === 1 ? 0 : t;
        return values[k].slice(row * d, (row + 1) * d);
      });
      return { probabilities: values[0], features };
    } finally {
      tf.dispose(outputs);
    }
  }
}

/** One of the T inputs: a drawing canvas and the image it gives the model. */
interface Slot {
  canvas: HTMLCanvasElement;
  fed: HTMLCanvasElement;
  reading: HTMLElement;
  bars: HTMLElement[];
  /** The test digit shown (index in the sample), or null for a drawing. */
  sample: number | null;
  /** [height · width] what the model is fed. */
  input: Float32Array;
  /** The canvas changed since `input` was made. */
  stale: boolean;
}

class Page {
  private readonly slots: Slot[] = [];
  private readonly classBars: HTMLElement[] = [];
  private readonly answers: AnswerTable | null;
  private running = false;
  private pending = false;

  constructor(
    private readonly site: SiteData, private readonly reader: Reader, private readonly digits: DigitSample,
    private readonly task: Task | null,
  ) {
    const { seqLength } = site.run.crnnConfig;
    this.answers = task === null ? null : answerTable(task, seqLength);
  }

  private get imageSize(): number {
    return this.site.run.crnnConfig.height * this.site.run.crnnConfig.width;
  }

  /** The value class c stands for: −9..9 for the difference. */
  private answerOf(c: number): string {
    const value = this.task === null ? c : this.task.valueOf(c);
    return value < 0 ? `−${-value}` : String(value);
  }

  build(): void {
    const { seqLength, height, width, numClasses } = this.site.run.crnnConfig;
    const slots = element('slots');
    for (let t = 0; t < seqLength; t++) {
      const figure = create('figure', 'slot');
      figure.append(create('figcaption', '', `${ordinal(t)} digit`));
      const canvas = create('canvas', 'draw');
      canvas.width = width * DRAW_SCALE;
      canvas.height = height * DRAW_SCALE;
      canvas.setAttribute('aria-label', `drawing area for the ${ordinal(t)} digit`);
      const fed = create('canvas', 'fed');
      fed.width = width;
      fed.height = height;
      fed.title = `the ${width}×${height} image the model is fed`;
      const side = create('div', 'fed-column');
      side.append(fed, create('span', 'fed-label', `fed: ${width}×${height}`));
      const pair = create('div', 'pair');
      pair.append(canvas, side);
      const reading = create('p', 'reading', ' ');
      const bars = create('div', 'digit-bars');
      const digitBars = Array.from({ length: 10 }, (_, d) => {
        const column = create('div', 'column');
        const bar = create('div', 'bar');
        column.append(bar, create('span', 'label', String(d)));
        bars.append(column);
        return bar;
      });
      figure.append(pair, reading, bars);
      slots.append(figure);
      const slot: Slot = { canvas, fed, reading, bars: digitBars, sample: null, input: new Float32Array(height * width), stale: false };
      this.slots.push(slot);
      this.clearSlot(slot);
      this.enableDrawing(slot);
    }
    const classes = element('classes');
    for (let c = 0; c < numClasses; c++) {
      const column = create('div', 'column');
      const bar = create('div', 'bar');
      column.title = `answer ${this.answerOf(c)}`;
      column.append(bar, create('span', 'label', this.answerOf(c)));
      classes.append(column);
      this.classBars.push(bar);
    }
    element('sample').addEventListener('click', () => this.showTestSequence());
    element('clear').addEventListener('click', () => this.clear());
    element('readings-note').textContent = this.site.probe !== null
      ? 'Digits read by the digit probe: a linear read-out of the features each step\'s CNN hands to the RNN, ' +
        `fitted on training digits (p = ${this.site.probe.accuracy.map((p) => percent(p, 2)).join(', ')} on test digits).`
      : 'Digits read off the answer (this run has no digit probe): the answer\'s probabilities spread over ' +
        'the sequences that give each answer, all equally likely, so a digit the answer does not decide stays spread out.';
    hooks.readingsFrom = this.site.probe !== null ? 'probe' : 'answer';
    this.syncHooks();
  }

  private clearSlot(slot: Slot): void {
    const context = slot.canvas.getContext('2d')!;
    context.fillStyle = '#000';
    context.fillRect(0, 0, slot.canvas.width, slot.canvas.height);
    slot.sample = null;
    slot.input.fill(0);
    slot.stale = false;
    this.drawFed(slot);
  }

  private enableDrawing(slot: Slot): void {
    const { canvas } = slot;
    const context = canvas.getContext('2d')!;
    let last: { x: number; y: number } | null = null;
    const at = (event: PointerEvent) => {
      const box = canvas.getBoundingClientRect();
      return { x: (event.clientX - box.left) * canvas.width / box.width, y: (event.clientY - box.top) * canvas.height / box.height };
    };
    const stroke = (to: { x: number; y: number }) => {
      context.strokeStyle = '#fff';
      context.lineWidth = PEN_WIDTH;
      context.lineCap = 'round';
      context.lineJoin = 'round';
      context.beginPath();
      context.moveTo((last ?? to).x, (last ?? to).y);
      context.lineTo(to.x, to.y);
      context.stroke();
      last = to;
      if (slot.sample !== null) {
        // Drawn over: the canvas (the test digit as drawn there, and the stroke) is now the input.
        slot.sample = null;
        element('truth').textContent = 'You drew over the test digits: this is a sequence of your own.';
      }
      slot.stale = true;
      this.predictSoon();
    };
    canvas.addEventListener('pointerdown', (event) => {
      canvas.setPointerCapture(event.pointerId);
      last = null;
      stroke(at(event));
    });
    canvas.addEventListener('pointermove', (event) => {
      if (last !== null && (event.buttons & 1) === 1) stroke(at(event));
    });
    const end = () => { last = null; };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
  }

  /** Shows the model's input beside the canvas, white ink on black as in MNIST. */
  private drawFed(slot: Slot): void {
    const { width, height } = slot.fed;
    const image = new ImageData(width, height);
    slot.input.forEach((v, p) => {
      const grey = Math.round(255 * v);
      image.data.set([grey, grey, grey, 255], 4 * p);
    });
    slot.fed.getContext('2d')!.putImageData(image, 0, 0);
  }

  /**
   * Fills the canvases with a sequence of the sample's test digits, random or
   * the ones at `indices`, and states its true answer.
   */
  showTestSequence(indices?: number[]): void {
    const picked = this.slots.map((slot, t) => {
      const index = indices?.[t] ?? Math.floor(Math.random() * this.digits.labels.length);
      const bytes = this.digits.images.subarray(index * this.imageSize, (index + 1) * this.imageSize);
      slot.input = Float32Array.from(bytes, (v) => v / 255);
      slot.sample = index;
      slot.stale = false;
      this.drawFed(slot);
      // The digit on the canvas, each pixel a DRAW_SCALE × DRAW_SCALE block: drawn over, it comes back as itself.
      const context = slot.canvas.getContext('2d')!;
      context.imageSmoothingEnabled = false;
      context.drawImage(slot.fed, 0, 0, slot.canvas.width, slot.canvas.height);
      return this.digits.labels[index];
    });
    const truth = this.task === null ? '' : `: the answer is ${this.answerOf(this.task.classOf(picked))}`;
    element('truth').textContent = `Test digits ${picked.join(', ')}${truth} (${taskFormula(this.site.run.task, picked.length)}).`;
    this.predictSoon();
  }

  clear(): void {
    for (const slot of this.slots) this.clearSlot(slot);
    element('truth').textContent = ' ';
    this.predictSoon();
  }

  /** Predicts once the current prediction (if any) is done; draws made meanwhile are taken together. */
  predictSoon(): void {
    this.pending = true;
    if (!this.running) void this.predictLoop();
  }

  private async predictLoop(): Promise<void> {
    this.running = true;
    try {
      while (this.pending) {
        this.pending = false;
        for (const slot of this.slots) {
          if (!slot.stale) continue;
          const { canvas } = slot;
          const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
          slot.input = mnistInput(greyFromRgba(pixels, canvas.width, canvas.height)).pixels;
          slot.stale = false;
          this.drawFed(slot);
        }
        const inputs = this.slots.map((slot) => slot.input);
        if (inputs.every((input) => input.every((v) => v === 0))) {
          this.showBlank();
          continue;
        }
        const { probabilities, features } = await this.reader.read(inputs);
        const readings = this.site.probe !== null
          ? features.map((f, t) => digitProbabilities(f, this.site.probe!.readouts[t]))
          : this.answers !== null ? digitsFromAnswer(probabilities, this.answers) : [];
        this.showPrediction(probabilities, readings);
        hooks.inputs = inputs.map((input) => Array.from(input));
        hooks.probabilities = Array.from(probabilities);
        hooks.digitReadings = readings;
        hooks.predictions++;
        hooks.readyMs ??= performance.now();
        this.syncHooks();
      }
    } catch (err) {
      fail(err);
    } finally {
      this.running = false;
    }
  }

  private showBlank(): void {
    element('answer').textContent = 'Draw a digit in each box, or take a random test sequence.';
    for (const bar of this.classBars) bar.style.height = '0';
    for (const slot of this.slots) {
      slot.reading.textContent = ' ';
      for (const bar of slot.bars) bar.style.height = '0';
    }
    this.syncHooks();
  }

  private showPrediction(probabilities: Float32Array, readings: number[][]): void {
    const best = probabilities.indexOf(Math.max(...probabilities));
    const blanks = this.slots.filter((slot) => slot.input.every((v) => v === 0)).length;
    const truth = this.slots.every((slot) => slot.sample !== null) && this.task !== null
      ? this.task.classOf(this.slots.map((slot) => this.digits.labels[slot.sample!])) : null;
    const verdict = truth === null ? '' : truth === best ? ' (right)' : ` (wrong: the answer is ${this.answerOf(truth)})`;
    element('answer').textContent = `${this.answerOf(best)}, with probability ${percent(probabilities[best])}${verdict}` +
      (blanks > 0 ? ` (${blanks} box${blanks > 1 ? 'es are' : ' is'} empty: read as a blank image)` : '');
    this.classBars.forEach((bar, c) => {
      bar.style.height = `${100 * probabilities[c]}%`;
      bar.classList.toggle('best', c === best);
      bar.parentElement!.classList.toggle('truth', c === truth);
    });
    this.slots.forEach((slot, t) => {
      const reading = readings[t];
      if (reading === undefined) {
        slot.reading.textContent = ' ';
        return;
      }
      const digit = reading.indexOf(Math.max(...reading));
      slot.reading.textContent = `reads ${digit} (${percent(reading[digit])})`;
      slot.bars.forEach((bar, d) => {
        bar.style.height = `${100 * reading[d]}%`;
        bar.classList.toggle('best', d === digit);
      });
    });
  }

  /** Milliseconds per prediction of the current inputs, over `count` after one untimed (a warm-up). */
  async timePredictions(count: number): Promise<number> {
    const inputs = this.slots.map((slot) => slot.input);
    await this.reader.read(inputs);
    const start = performance.now();
    for (let i = 0; i < count; i++) await this.reader.read(inputs);
    return (performance.now() - start) / count;
  }

  private syncHooks(): void {
    hooks.sampleIndices = this.slots.map((slot) => slot.sample);
  }
}

/** The run panel: what was trained, how well, and where the page runs it. */
function showRun(site: SiteData, model: tf.LayersModel, backend: { name: string; how: string }): void {
  const { run } = site;
  const { seqLength, numClasses } = run.crnnConfig;
  const facts: [string, string][] = [
    ['Run', run.name],
    ['Task', `${taskFormula(run.task, seqLength)} (${run.task}, ${numClasses} answers, T = ${seqLength})`],
    ['Accuracy', run.finalAccuracy === null ? 'not evaluated'
      : `${percent(run.finalAccuracy, 2)} of ${run.trainConfig.evalSize.toLocaleString('en')} test sequences answered right (last evaluation)`],
  ];
  if (run.digitProbe !== null) {
    facts.push(['Digit probe', `p = ${run.digitProbe.accuracy.map((p) => percent(p, 2)).join(', ')} per step on ` +
      `${run.digitProbe.testDigits.toLocaleString('en')} test digits`]);
  }
  facts.push(
    ['Model', `${model.name}: ${model.countParams().toLocaleString('en')} parameters`],
    ['Training', `${run.steps.toLocaleString('en')} steps of ${run.trainConfig.batchSize} sequences in ` +
      `${formatDuration(run.elapsedSeconds)} on ${run.backend}${run.cpu ? ` (${run.cpu})` : ''}, saved ${run.savedAt.slice(0, 16).replace('T', ' ')}`],
    ['Backend here', `${BACKEND_NAMES[backend.name] ?? backend.name} (${backend.how})`],
  );
  const list = element('run-facts');
  for (const [term, value] of facts) {
    const row = create('div');
    row.append(create('dt', '', term), create('dd', '', value));
    if (term === 'Backend here') row.id = 'backend';
    list.append(row);
  }
  const table = element<HTMLTableElement>('settings');
  for (const setting of settings) {
    const config: Record<string, unknown> = setting.config === 'model' ? { ...run.crnnConfig } : { ...run.trainConfig };
    const value = formatSetting(config[setting.name]);
    const row = table.insertRow();
    row.insertCell().textContent = setting.name;
    const cell = row.insertCell();
    cell.textContent = value;
    if (value !== formatSetting(setting.default)) row.className = 'changed';
    row.insertCell().textContent = setting.help;
  }
  element('task').textContent = `Draw ${seqLength} digit${seqLength > 1 ? 's' : ''}: the network answers ${taskFormula(run.task, seqLength)}.`;
}

/** Shows why the page cannot work, instead of a blank page. */
function fail(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  hooks.state = 'error';
  hooks.error = message;
  document.body.dataset.state = 'error';
  const box = element('error');
  box.replaceChildren(
    create('h2', '', 'This page could not load its run'),
    create('p', '', message),
    create('p', '', 'Build the page again from a saved run: npm run demo:build -- RUN_DIR --out DIR (or serve it with npm run demo).'),
  );
  box.hidden = false;
  element('task').textContent = ' ';
  console.error(err);
}

/**
 * The test digits asked for with ?sample=i,j,… (indices in the sample, one
 * per step: a link to a sequence), or undefined for a random one.
 * @throws Error when they are not T indices of the sample.
 */
function sampleAsked(seqLength: number, count: number): number[] | undefined {
  const text = new URLSearchParams(location.search).get('sample');
  if (text === null) return undefined;
  const indices = text.split(',').map(Number);
  if (indices.length !== seqLength || !indices.every((i) => Number.isInteger(i) && i >= 0 && i < count)) {
    throw new Error(`?sample=${text} needs ${seqLength} indices of test digits, each 0..${count - 1}`);
  }
  return indices;
}

async function main(): Promise<void> {
  const backend = await startBackend();
  hooks.backend = backend.name;
  const site = checkSiteData(await fetchJson(SITE_FILE));
  const { seqLength, height, width, numClasses } = site.run.crnnConfig;
  const [model, digitBytes] = await Promise.all([
    tf.loadLayersModel(site.model).catch((err: Error) => {
      throw new Error(`the model ${site.model} could not be loaded: ${err.message}`);
    }),
    fetchOk(site.digits.file).then(async (response) => new Uint8Array(await response.arrayBuffer())),
  ]);
  const expected = [null, seqLength, height, width, 1];
  const shape = model.inputs[0].shape;
  if (shape.length !== 5 || !shape.every((n, i) => n === expected[i]) || model.outputs[0].shape[1] !== numClasses) {
    throw new Error(`the model reads [${shape.join(', ')}] into ${String(model.outputs[0].shape[1])} classes, ` +
      `but ${SITE_FILE} describes T = ${seqLength} images of ${height}×${width} and ${numClasses} classes`);
  }
  const digits = decodeDigits(digitBytes, site.digits);
  let task: Task | null = null;
  try {
    task = getTask(site.run.task, seqLength);
  } catch {
    // A task defined in code (customTask) is saved by name only: answers are shown as class indices.
  }
  const reader = new Reader(model, site);
  // One prediction on blank images: damaged weights show here as NaN, not later as nonsense.
  const blank = await reader.read(Array.from({ length: seqLength }, () => new Float32Array(height * width)));
  if (!blank.probabilities.every(Number.isFinite)) {
    throw new Error(`the model's weights give ${blank.probabilities[0]} as a probability: the weights file is damaged`);
  }
  showRun(site, model, backend);
  const page = new Page(site, reader, digits, task);
  page.build();
  page.showTestSequence(sampleAsked(seqLength, digits.labels.length));
  hooks.timePredictions = (count) => page.timePredictions(count);
  hooks.state = 'ready';
  document.body.dataset.state = 'ready';
}

main().catch(fail);
