/**
 * A/B/C timing of augmented training on the graph engine: ms/step of the
 * `best` preset's model and training settings (shifts of up to 2 px,
 * rotations of up to 10°) trained by three GraphTrainers of one model:
 *
 * - in-graph: batches gathered and augmented in the graph (sampler.ts),
 *   DEFAULT_STEPS_PER_CALL steps per session call, as `trainSteps` runs
 *   augmented runs now;
 * - no augmentation: the same loop without the transform, the speed of a
 *   preset that does not augment;
 * - CPU-side: batches made and augmented on the CPU (`makeSequenceBatch`,
 *   lib/data/augment.ts) and fed one step per session call, as augmented
 *   runs trained before.
 *
 * A warm-up of each, then blocks of `steps` steps alternating in-graph, none,
 * CPU-side…, `repeats` of each; the median block per side, and the ratios:
 * of wall time, and of the CPU time the process spent (user + system, all
 * threads), which other jobs on a shared machine disturb less.
 *
 *   node dist/bench/augment.js [steps=200] [repeats=3]
 */
import * as os from 'node:os';
import { tf, backend } from '../lib/tf';
import { buildCrnn, disposeCrnn } from '../lib/model/build';
import { DEFAULT_STEPS_PER_CALL } from '../lib/train/loop';
import { GraphTrainer, samplerSpecFor } from '../lib/graph';
import { loadMnist } from '../lib/data/data';
import { differenceTask } from '../lib/data/tasks';
import { drawSequenceIndices, makeSequenceBatch } from '../lib/data/sequences';
import { createRng, deriveSeed } from '../lib/random';
import { presetConfigs } from '../lib/presets';
import { resolveCrnnConfig, resolveTrainConfig } from '../lib/config';
import { readCpuFlags } from '../lib/runs/cpu';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const [steps, repeats] = [200, 3].map((fallback, k) => Number(process.argv[2 + k] ?? fallback));
  const preset = presetConfigs('best');
  const modelConfig = resolveCrnnConfig(preset.model);
  const trainConfig = resolveTrainConfig(preset.train);
  const { seqLength } = modelConfig;
  const { batchSize, labelSmoothing, augmentShift: maxShift, augmentRotation: maxRotation } = trainConfig;
  const data = loadMnist();
  const spec = samplerSpecFor(data.train, differenceTask, seqLength);
  if (typeof spec === 'string') throw new Error(spec);
  const rng = createRng(1);
  const k = DEFAULT_STEPS_PER_CALL;
  const calls = Math.ceil(steps / k);
  const imagesPerStep = batchSize * seqLength;
  const callIndices = Array.from({ length: calls }, () => {
    const indices = new Int32Array(k * imagesPerStep);
    for (let s = 0; s < k; s++) indices.set(drawSequenceIndices(data.train.count, batchSize, seqLength, rng), s * imagesPerStep);
    return indices;
  });
  const rates = new Array<number>(k).fill(modelConfig.learningRate);
  const augment = { maxShift, maxRotation, seed: deriveSeed(trainConfig.seed, 'augment') | 0 };
  console.log(`cpu: ${os.cpus()[0]?.model.trim()} ×${os.availableParallelism()} (${readCpuFlags().join(' ')}), ` +
    `backend ${backend.name}; preset best: batch ${batchSize}, T ${seqLength}, kernel ${modelConfig.kernelSize}, ` +
    `batch norm ${modelConfig.batchNorm}, dropout ${modelConfig.dropout}, shifts ±${maxShift} px, rotations ±${maxRotation}°; ` +
    `${calls * k} steps per block, ${repeats} blocks per side`);

  const model = buildCrnn(modelConfig);
  const options = { labelSmoothing, trainingSet: data.train };
  const inGraph = await GraphTrainer.create(model, { ...options, sampler: { spec, stepsPerCall: k, augment } });
  const plain = await GraphTrainer.create(model, { ...options, sampler: { spec, stepsPerCall: k } });
  const cpuSide = await GraphTrainer.create(model, { labelSmoothing });
  const cpuAugment = { maxShift, maxRotation, rng: createRng(2) };

  const looped = (trainer: GraphTrainer) => (count: number) => {
    for (let c = 0; c < count; c++) {
      const out = trainer.runSteps(callIndices[c % calls], rates);
      out.dataSync();
      out.dispose();
    }
  };
  const oneByOne = (count: number) => {
    for (let c = 0; c < count; c++) {
      const indices = callIndices[c % calls];
      for (let s = 0; s < k; s++) {
        const batch = makeSequenceBatch(data.train, indices.subarray(s * imagesPerStep, (s + 1) * imagesPerStep),
          seqLength, differenceTask, cpuAugment);
        const out = cpuSide.step(batch.xs, batch.ys, rates[s]);
        out.dataSync();
        tf.dispose([out, batch.xs, batch.ys]);
      }
    }
  };
  const sides = [
    { name: 'in-graph augmentation', run: looped(inGraph), ms: [] as number[], cpuMs: [] as number[] },
    { name: 'no augmentation      ', run: looped(plain), ms: [] as number[], cpuMs: [] as number[] },
    { name: 'CPU-side augmentation', run: oneByOne, ms: [] as number[], cpuMs: [] as number[] },
  ];
  for (const side of sides) side.run(3); // graph optimisation, kernels, caches
  for (let r = 0; r < repeats; r++) {
    for (const side of sides) {
      const start = performance.now();
      const cpuStart = process.cpuUsage();
      side.run(calls);
      const cpu = process.cpuUsage(cpuStart);
      side.ms.push((performance.now() - start) / (calls * k));
      side.cpuMs.push((cpu.user + cpu.system) / 1000 / (calls * k));
    }
  }
  const show = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');
  for (const side of sides) {
    console.log(`${side.name}: ${median(side.ms).toFixed(2)} ms/step [${show(side.ms)}], ` +
      `CPU ${median(side.cpuMs).toFixed(2)} ms/step [${show(side.cpuMs)}]`);
  }
  for (const [what, key] of [['wall', 'ms'], ['CPU', 'cpuMs']] as const) {
    const [graphMs, plainMs, cpuSideMs] = sides.map((side) => median(side[key]));
    console.log(`${what} time: in-graph / none ${(graphMs / plainMs).toFixed(3)} ` +
      `(the transform: ${(graphMs - plainMs).toFixed(2)} ms/step), CPU-side / in-graph ${(cpuSideMs / graphMs).toFixed(3)}`);
  }
  for (const trainer of [inGraph, plain, cpuSide]) trainer.dispose();
  disposeCrnn(model);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
