/**
 * What the browser page of a run reads besides the model: `site.json`, which
 * `buildSite` (lib/demo/site.ts) writes and the page (demo/page.ts) checks
 * before it uses it, and the sample of test digits it points to.
 *
 * Pure: no DOM, no Node, no TensorFlow.
 */
import type { CrnnConfig, DigitProbeRecord, DigitReadout, TrainConfig } from '../types';
import { resolveCrnnConfig, resolveTrainConfig } from '../config';

export const SITE_FILE = 'site.json';
export const SITE_FORMAT = 'crnn-mnist-demo';
export const SITE_VERSION = 1;

/** The run as the page shows it. */
export interface SiteRun {
  /** The run folder's name. */
  name: string;
  task: string;
  crnnConfig: CrnnConfig;
  trainConfig: TrainConfig;
  /** Training steps done. */
  steps: number;
  /** Accuracy on the fixed evaluation set (trainConfig.evalSize test sequences) at the last evaluation. */
  finalAccuracy: number | null;
  elapsedSeconds: number;
  savedAt: string;
  /** The tfjs backend that trained it, and the machine's CPU when recorded. */
  backend: string;
  cpu: string | null;
  /** The digit probe's accuracies as the run recorded them, if it did. */
  digitProbe: DigitProbeRecord | null;
}

/** The sample of test digits shipped with the page: one file, the labels then the images. */
export interface SiteDigits {
  /** File name, next to site.json. */
  file: string;
  count: number;
  height: number;
  width: number;
  /** Where they come from, in words. */
  source: string;
}

/** The run's digit probes, fitted again when the site was built (`fitDigitProbes`). */
export interface SiteProbe {
  /** [T] the layer each step's probe reads. */
  featureLayers: string[];
  /** [T] the probes. */
  readouts: DigitReadout[];
  /** [T] their accuracy on the recorded number of test digits, measured again. */
  accuracy: number[];
}

/** The contents of site.json. */
export interface SiteData {
  format: typeof SITE_FORMAT;
  version: number;
  /** ISO date of the build. */
  builtAt: string;
  run: SiteRun;
  /** Path of the run's model.json, as the trainer saved it, relative to site.json. */
  model: string;
  digits: SiteDigits;
  /** Null for a run without a recorded digit probe: the page then reads digits off the answer. */
  probe: SiteProbe | null;
}

function isPositiveInteger(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) > 0;
}

function numbers(value: unknown, length: number): boolean {
  return Array.isArray(value) && value.length === length && value.every((v) => typeof v === 'number' && Number.isFinite(v));
}

/**
 * `value` (parsed site.json) checked to be site data the page can use.
 * @throws Error naming what is missing or wrong.
 */
export function checkSiteData(value: unknown): SiteData {
  const site = value as Partial<SiteData> | null;
  if (site === null || typeof site !== 'object' || site.format !== SITE_FORMAT) {
    throw new Error(`${SITE_FILE} is not the site data of a run (format ${JSON.stringify(site?.format)}, expected "${SITE_FORMAT}")`);
  }
  if (site.version !== SITE_VERSION) {
    throw new Error(`${SITE_FILE} has version ${String(site.version)}; this page reads version ${SITE_VERSION}: build the site again`);
  }
  const run = site.run;
  if (!run || typeof run.task !== 'string' || typeof run.name !== 'string') throw new Error(`${SITE_FILE} describes no run`);
  try {
    run.crnnConfig = resolveCrnnConfig(run.crnnConfig);
    run.trainConfig = resolveTrainConfig(run.trainConfig);
  } catch (err) {
    throw new Error(`${SITE_FILE}: ${(err as Error).message}`);
  }
  if (typeof site.model !== 'string' || site.model === '') throw new Error(`${SITE_FILE} names no model file`);
  const digits = site.digits;
  if (!digits || typeof digits.file !== 'string' ||
      ![digits.count, digits.height, digits.width].every(isPositiveInteger)) {
    throw new Error(`${SITE_FILE}: the test digits need a file and a positive count, height and width`);
  }
  const { seqLength, height, width } = run.crnnConfig;
  if (digits.height !== height || digits.width !== width) {
    throw new Error(`${SITE_FILE}: the test digits are ${digits.height}×${digits.width}, the model reads ${height}×${width}`);
  }
  const probe = site.probe;
  if (probe !== null) {
    if (!probe || !Array.isArray(probe.featureLayers) || probe.featureLayers.length !== seqLength ||
        !Array.isArray(probe.readouts) || probe.readouts.length !== seqLength || !numbers(probe.accuracy, seqLength)) {
      throw new Error(`${SITE_FILE}: the digit probe needs a feature layer, a read-out and an accuracy per step (T = ${seqLength})`);
    }
    for (const readout of probe.readouts) {
      const d = readout?.mean?.length ?? 0;
      const classes = readout?.bias?.length ?? 0;
      if (d === 0 || classes === 0 || !numbers(readout.mean, d) || !numbers(readout.scale, d) ||
          !numbers(readout.weights, d * classes) || !numbers(readout.bias, classes)) {
        throw new Error(`${SITE_FILE}: a digit probe read-out is incomplete (mean, scale, weights, bias)`);
      }
    }
  }
  return site as SiteData;
}

/** The labels and images of the digits file. */
export interface DigitSample {
  /** [count] 0..9 */
  labels: Uint8Array;
  /** [count · height · width] grey levels 0..255 */
  images: Uint8Array;
}

/** Encodes a digit sample as the digits file: the labels, then the images. */
export function encodeDigits(sample: DigitSample): Uint8Array {
  const bytes = new Uint8Array(sample.labels.length + sample.images.length);
  bytes.set(sample.labels, 0);
  bytes.set(sample.images, sample.labels.length);
  return bytes;
}

/**
 * Splits the digits file into labels and images.
 * @throws Error when its size is not what `digits` describes, or a label is not 0..9.
 */
export function decodeDigits(bytes: Uint8Array, digits: SiteDigits): DigitSample {
  const { count, height, width } = digits;
  const expected = count * (1 + height * width);
  if (bytes.length !== expected) {
    throw new Error(`${digits.file} holds ${bytes.length} bytes; ${count} digits of ${height}×${width} take ${expected}`);
  }
  const labels = bytes.subarray(0, count);
  const bad = labels.findIndex((label) => label > 9);
  if (bad >= 0) throw new Error(`${digits.file}: label ${labels[bad]} of digit ${bad} is not 0..9`);
  return { labels, images: bytes.subarray(count) };
}

/**
 * What the page exposes as `window.crnnDemo`, for its browser test and
 * anyone curious in the console: its state and the numbers behind what it shows.
 */
export interface DemoHooks {
  /** 'loading', 'ready' or 'error'. */
  state: 'loading' | 'ready' | 'error';
  /** Why the page could not start, in state 'error'. */
  error: string | null;
  /** The tfjs backend in use ('webgl', 'wasm' or 'cpu'). */
  backend: string | null;
  /** Predictions made so far. */
  predictions: number;
  /** Milliseconds from the start of the page's navigation to its first prediction shown. */
  readyMs: number | null;
  /** [T][height · width] the inputs of the last prediction, grey levels in [0, 1]. */
  inputs: number[][];
  /** [numClasses] the answer probabilities of the last prediction. */
  probabilities: number[];
  /** [T][10] the digits as the last prediction read them. */
  digitReadings: number[][];
  /** 'probe' or 'answer': where the digit readings come from. */
  readingsFrom: 'probe' | 'answer' | null;
  /** [T] the sample digit each canvas shows (its index in the digits file), or null for a drawing. */
  sampleIndices: (number | null)[];
  /** Milliseconds per prediction of the current inputs, over `count` after one untimed; set once ready. */
  timePredictions?: (count: number) => Promise<number>;
}
