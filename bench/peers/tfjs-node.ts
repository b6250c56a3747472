/**
 * The TypeScript side of the benchmark: this project's CRNN (lib/model/build.ts) on
 * tfjs-node, with the same command line and JSON report as the Python peers
 * (see bench/protocol.ts). Run as `node dist/bench/peers/tfjs-node.js --mode tiny`.
 *
 * One more flag, `--engine graph|eager` (default graph), picks how the steps
 * run: the graph engine of lib/graph/, which `trainSteps` uses by
 * default, or tfjs op by op (`createTrainStep`). bench/run.ts runs both, as
 * the peers 'tfjs-node' and 'tfjs-eager'.
 *
 * The graph engine's steps run as `trainSteps` runs them: DEFAULT_STEPS_PER_CALL
 * steps per session call, on batches the graph gathers from the training
 * images it holds, given each step's image indices (drawn before timing,
 * as the protocol's batches are); every step's loss comes back to the host.
 *
 * Besides the protocol's step timing, it reports:
 * - `byStepsPerCall`: ms/step of the same steps with 1, 10 and 100 steps per
 *   session call, and `firstCallMs`, the first call of each, in which
 *   TensorFlow optimises the graph;
 * - `loopMsPerStep`: ms/step of the project's own loop, `trainSteps` of
 *   lib/train/loop.ts, which draws a fresh batch every step as the article does,
 *   the optimisation of its graph at its first call included;
 * - `samplingMsPerBatch` and `samplingShare`: the cost of
 *   `sampleSequenceBatch` per batch, and its share of a loop step.
 */
import * as os from 'node:os';
import { parsePeerArgs, spreadOf, type OnednnReport, type PeerOptions, type PeerReport } from '../protocol';
import { tensorflowOnednnReport, tensorflowThreads } from '../settings';
import { readCpuFlags } from '../../lib/runs/cpu';

type Lib = {
  tf: typeof import('../../lib/tf');
  model: typeof import('../../lib/model/build');
  train: typeof import('../../lib/train/loop');
  graph: typeof import('../../lib/graph');
  tasks: typeof import('../../lib/data/tasks');
  data: typeof import('../../lib/data/data');
  sequences: typeof import('../../lib/data/sequences');
  random: typeof import('../../lib/random');
};

/**
 * Loads the library. The thread settings are read by libtensorflow when it
 * creates its thread pools, so they must be in the environment before the
 * native backend loads: hence a lazy require instead of top-level imports.
 */
function loadLib(threads: number): Lib {
  if (threads > 0) {
    process.env.TF_NUM_INTRAOP_THREADS = String(threads);
    process.env.TF_NUM_INTEROP_THREADS = String(threads);
  }
  /* eslint-disable @typescript-eslint/no-require-imports */
  return {
    tf: require('../../lib/tf') as Lib['tf'],
    model: require('../../lib/model/build') as Lib['model'],
    train: require('../../lib/train/loop') as Lib['train'],
    graph: require('../../lib/graph') as Lib['graph'],
    tasks: require('../../lib/data/tasks') as Lib['tasks'],
    data: require('../../lib/data/data') as Lib['data'],
    sequences: require('../../lib/data/sequences') as Lib['sequences'],
    random: require('../../lib/random') as Lib['random'],
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
}

type LayersModel = import('@tensorflow/tfjs').LayersModel;
type Tensor = import('@tensorflow/tfjs').Tensor;

/** How the steps run: see the top of this file. */
export type Engine = 'graph' | 'eager';

/** Takes `--engine <name>` out of a peer command line; the rest is the shared protocol's. */
export function takeEngine(argv: readonly string[]): { engine: Engine; rest: string[] } {
  const rest = [...argv];
  const at = rest.indexOf('--engine');
  if (at < 0) return { engine: 'graph', rest };
  const engine = rest[at + 1];
  if (engine !== 'graph' && engine !== 'eager') {
    throw new Error(`--engine must be graph or eager, got ${JSON.stringify(engine ?? '')}`);
  }
  rest.splice(at, 2);
  return { engine, rest };
}

/**
 * The task of the benchmark: the article's difference; with one image per
 * sequence (a throughput point only) the second digit counts as 0, which
 * keeps the 19 classes, as in bench/peers/common.py.
 */
function benchTask(lib: Lib, seqLength: number) {
  return seqLength >= 2 ? lib.tasks.differenceTask
    : lib.tasks.customTask('first digit − 0', (d) => d[0], { min: -9, max: 9 });
}

/** The process's peak resident memory so far, in MB (Linux reports it in KiB). */
const peakRssMbNow = () => process.resourceUsage().maxRSS / 1024;

/** Wall and CPU (all threads) milliseconds per step of each of `repeats` blocks of `steps` steps. */
function timeBlocks(repeats: number, steps: number, runStep: () => void): { wall: number[]; cpu: number[] } {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    for (let s = 0; s < steps; s++) runStep();
    const used = process.cpuUsage(cpuStart);
    wall.push((performance.now() - start) / steps);
    cpu.push((used.user + used.system) / 1000 / steps);
  }
  return { wall, cpu };
}

/** The steps per call of the loop measurements: 1 (a call per step), the default, and 100. */
function loopStepsPerCall(lib: Lib, mode: PeerOptions['mode']): number[] {
  const chosen = lib.train.DEFAULT_STEPS_PER_CALL;
  return mode === 'tiny' ? [1, chosen] : [...new Set([1, chosen, 100])];
}

async function throughput(lib: Lib, model: LayersModel, options: PeerOptions, engine: Engine): Promise<Partial<PeerReport>> {
  const { tf } = lib.tf;
  const data = lib.data.loadMnist();
  const task = benchTask(lib, options.seqLength);
  const sample = { batchSize: options.batchSize, seqLength: options.seqLength, task };
  const rng = lib.random.createRng(options.seed);
  // The batches of the timed steps, drawn before timing: their image indices,
  // and (for the eager engine) the batches made from them.
  const poolIndices = Array.from({ length: options.poolSize },
    () => lib.sequences.drawSequenceIndices(data.train.count, options.batchSize, options.seqLength, rng));
  // The library's own steps, as trainSteps takes them: with the graph engine,
  // stepsPerCall steps per session call on batches the graph gathers; eagerly,
  // one step at a time on batches made on the CPU. Every step's loss is read back.
  const stepsPerCall = engine === 'graph' ? lib.train.DEFAULT_STEPS_PER_CALL : 1;
  const spec = engine === 'graph' ? lib.graph.samplerSpecFor(data.train, task, options.seqLength) : undefined;
  if (typeof spec === 'string') throw new Error(spec);
  const trainer = spec === undefined ? undefined
    : await lib.graph.GraphTrainer.create(model, { sampler: { spec, stepsPerCall }, trainingSet: data.train });
  const pool = trainer ? [] : poolIndices.map((indices) => lib.sequences.makeSequenceBatch(data.train, indices, options.seqLength, task));
  const eagerStep = engine === 'eager' ? lib.train.createTrainStep(model) : undefined;
  const rates = new Array<number>(stepsPerCall).fill(1e-3);
  let n = 0;
  let loss = NaN;
  const next = () => {
    let out: Tensor;
    if (trainer) {
      const indices = new Int32Array(stepsPerCall * poolIndices[0].length);
      for (let k = 0; k < stepsPerCall; k++) indices.set(poolIndices[n++ % poolIndices.length], k * poolIndices[0].length);
      out = trainer.runSteps(indices, rates);
    } else {
      const batch = pool[n++ % pool.length];
      out = eagerStep!(batch.xs, batch.ys);
    }
    try {
      const values = out.dataSync();
      loss = values[values.length - (trainer ? 3 : 2)];
    } finally {
      out.dispose();
    }
  };
  let tensorsBefore: number | undefined;
  try {
    for (let i = 0; i < Math.ceil(options.warmup / stepsPerCall); i++) next();
    // Counted after the warm-up, which creates Adam's moment variables
    // (the graph engine creates them in the optimiser on its first pull).
    trainer?.pull();
    if (options.warmup > 0) tensorsBefore = tf.memory().numTensors;
    const calls = Math.ceil(options.steps / stepsPerCall);
    const timed = timeBlocks(options.repeats, calls, next);
    const perStep = (ms: number[]) => ms.map((m) => m / stepsPerCall);
    const msPerStep = spreadOf(perStep(timed.wall));
    // The training process's peak, as the Python peers report theirs: before
    // the measurements below build further trainers (100 steps per call
    // alone is a graph of 100 steps) beside this one.
    const peakRssMb = peakRssMbNow();
    trainer?.dispose();

    // Steps per session call: the same timed steps with 1, 10 and 100 per
    // call, after one untimed call; and that first call, in which TensorFlow
    // optimises the graph and prepares its kernels.
    const byStepsPerCall: Record<string, PeerReport['msPerStep']> = {};
    const firstCallMs: Record<string, number> = {};
    if (spec !== undefined) {
      for (const k of loopStepsPerCall(lib, options.mode)) {
        const kTrainer = await lib.graph.GraphTrainer.create(model, { sampler: { spec, stepsPerCall: k }, trainingSet: data.train });
        try {
          const kRates = new Array<number>(k).fill(1e-3);
          const call = () => {
            const indices = new Int32Array(k * poolIndices[0].length);
            for (let i = 0; i < k; i++) indices.set(poolIndices[n++ % poolIndices.length], i * poolIndices[0].length);
            const out = kTrainer.runSteps(indices, kRates);
            out.dataSync();
            out.dispose();
          };
          const start = performance.now();
          call();
          firstCallMs[k] = performance.now() - start;
          byStepsPerCall[k] = spreadOf(timeBlocks(options.repeats, Math.ceil(options.steps / k), call).wall.map((ms) => ms / k));
        } finally {
          kTrainer.dispose();
        }
      }
    }

    // The project's loop, fresh batch per step: what a trainSteps call of
    // this many steps costs, the optimisation of its graph at the first call
    // included; evaluated once at the end, on a one-sequence set.
    const loopBlocks: number[] = [];
    const loopSteps = stepsPerCall * Math.ceil(options.steps / stepsPerCall);
    for (let r = 0; r < options.repeats; r++) {
      const history = await lib.train.trainSteps(model, data, {
        seqLength: options.seqLength, task, numSteps: loopSteps, engine,
        batchSize: options.batchSize, evalEvery: loopSteps, evalSize: 1, seed: options.seed + r + 1,
      });
      loopBlocks.push(history.elapsedMs / loopSteps);
    }
    const loopMsPerStep = spreadOf(loopBlocks);

    const samplingBlocks = timeBlocks(options.repeats, options.steps, () => {
      const batch = lib.sequences.sampleSequenceBatch(data.train, { ...sample, rng });
      tf.dispose([batch.xs, batch.ys]);
    });
    const samplingMsPerBatch = spreadOf(samplingBlocks.wall);
    return {
      peakRssMb,
      msPerStep,
      cpuMsPerStep: spreadOf(perStep(timed.cpu)),
      samplesPerSec: (options.batchSize * 1000) / msPerStep.median,
      finalLoss: loss,
      stepsPerCall,
      loopMsPerStep,
      loopSamplesPerSec: (options.batchSize * 1000) / loopMsPerStep.median,
      byStepsPerCall,
      firstCallMs,
      samplingMsPerBatch,
      samplingShare: samplingMsPerBatch.median / loopMsPerStep.median,
      // Tensors left behind by the timed steps, the loop and the sampling (should be 0).
      leakedTensors: tensorsBefore === undefined ? null : tf.memory().numTensors - tensorsBefore,
    };
  } finally {
    trainer?.dispose();
    for (const batch of pool) tf.dispose([batch.xs, batch.ys]);
  }
}

async function toTarget(lib: Lib, model: LayersModel, options: PeerOptions, engine: Engine): Promise<Partial<PeerReport>> {
  const data = lib.data.loadMnist();
  const history = await lib.train.trainSteps(model, data, {
    seqLength: options.seqLength, task: 'difference', numSteps: options.steps, batchSize: options.batchSize,
    evalEvery: options.evalEvery, evalSize: options.evalSize, seed: options.seed, evalSeed: options.seed,
    targetAccuracy: options.target,
    // The article's constant rate, as in the Python peers: the library's cosine
    // default depends on the step cap and would make the comparison unequal.
    lrSchedule: 'constant',
    engine,
  });
  const reached = history.endReason === 'target-reached';
  const last = history.evals[history.evals.length - 1];
  return {
    target: options.target,
    reached,
    stepsToTarget: reached ? last.step : null,
    // trainSteps times sampling, steps and evaluations together.
    secondsToTarget: reached ? history.elapsedMs / 1000 : null,
    trainSeconds: history.elapsedMs / 1000,
    finalAccuracy: last ? last.accuracy : null,
    evals: history.evals,
  };
}

/** Runs one peer measurement and returns its report. */
export async function runTfjsPeer(options: PeerOptions, engine: Engine = 'graph'): Promise<PeerReport> {
  const lib = loadLib(options.threads);
  const { tf, backend } = lib.tf;
  const start = performance.now();
  const model = lib.model.buildCrnn({ seqLength: options.seqLength, sharedCnn: options.shared });
  const buildMs = performance.now() - start;
  try {
    const result = options.mode === 'to-target'
      ? await toTarget(lib, model, options, engine)
      : await throughput(lib, model, options, engine);
    const binding = (tf.backend() as unknown as { binding?: { TF_Version?: string } }).binding;
    const flags = readCpuFlags();
    // What lib/tf.ts left in the environment before libtensorflow loaded: the caller's value, or its default of 1.
    const onednn: OnednnReport = backend.native
      ? tensorflowOnednnReport(process.env.TF_ENABLE_ONEDNN_OPTS, flags)
      : { setting: process.env.TF_ENABLE_ONEDNN_OPTS ?? null, on: false, source: 'pure-JavaScript backend: no libtensorflow' };
    return {
      peer: engine === 'graph' ? 'tfjs-node' : 'tfjs-eager',
      framework: `@tensorflow/tfjs-node (${backend.name} backend), ${engine === 'graph'
        ? `graph engine: ${lib.train.DEFAULT_STEPS_PER_CALL} steps per session call, batches gathered in the graph`
        : 'eager: op by op'}`,
      engine,
      version: tf.version['tfjs-core'],
      libtensorflow: binding?.TF_Version ?? null,
      node: process.version,
      mode: options.mode,
      variant: options.shared ? 'shared' : 'per-step',
      batchSize: options.batchSize,
      seqLength: options.seqLength,
      threads: options.threads,
      params: model.countParams(),
      warmup: options.warmup,
      steps: options.steps,
      repeats: options.repeats,
      buildMs,
      peakRssMb: peakRssMbNow(),
      ...result,
      processPeakRssMb: peakRssMbNow(),
      cpu: { model: os.cpus()[0]?.model.trim() ?? 'unknown', flags },
      onednn,
      threadsInUse: backend.native
        ? tensorflowThreads(process.env, os.availableParallelism())
        : { intraOp: 1, interOp: 1, source: 'pure-JavaScript backend: one thread' },
    };
  } finally {
    model.dispose();
  }
}

if (require.main === module) {
  let options: PeerOptions;
  let engine: Engine;
  try {
    const { engine: chosen, rest } = takeEngine(process.argv.slice(2));
    engine = chosen;
    options = parsePeerArgs(rest, 'tfjs-node: the CRNN benchmark peer of this project (also takes --engine graph|eager)');
  } catch (err) {
    // commander has printed its own errors (and --help); print ours.
    const exitCode = (err as { exitCode?: number }).exitCode;
    if (exitCode === undefined) console.error(`error: ${(err as Error).message}`);
    process.exit(exitCode ?? 2);
  }
  runTfjsPeer(options, engine).then(
    (report) => process.stdout.write(`${JSON.stringify(report)}\n`),
    (err: unknown) => {
      console.error(err instanceof Error ? err.stack ?? err.message : err);
      process.exit(1);
    },
  );
}
