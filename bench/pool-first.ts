/**
 * A/B timing of the graph engine's pool-first writing (`poolFirst`, see
 * `PoolFirstChain` in lib/graph/layers.ts): ms/step of the same model trained
 * by two GraphTrainers, the rewrite on and off, as the tfjs-node peer runs
 * its steps (DEFAULT_STEPS_PER_CALL steps per call on batches the graph
 * gathers). Per CNN variant: a warm-up of each, then blocks of `steps` steps
 * alternating on, off, on, off…, `repeats` of each; the median block per side.
 *
 *   node dist/bench/pool-first.js [steps=200] [repeats=3] [batchSize=128]
 */
import * as os from 'node:os';
import { backend } from '../lib/tf';
import { buildCrnn, disposeCrnn } from '../lib/model/build';
import { DEFAULT_STEPS_PER_CALL } from '../lib/train/loop';
import { GraphTrainer, samplerSpecFor } from '../lib/graph';
import { loadMnist } from '../lib/data/data';
import { differenceTask } from '../lib/data/tasks';
import { drawSequenceIndices } from '../lib/data/sequences';
import { createRng } from '../lib/random';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const [steps, repeats, batchSize] = [200, 3, 128].map((fallback, k) => Number(process.argv[2 + k] ?? fallback));
  const seqLength = 2;
  const data = loadMnist();
  const spec = samplerSpecFor(data.train, differenceTask, seqLength);
  if (typeof spec === 'string') throw new Error(spec);
  const rng = createRng(1);
  const k = DEFAULT_STEPS_PER_CALL;
  const calls = Math.ceil(steps / k);
  const callIndices = Array.from({ length: calls }, () => {
    const indices = new Int32Array(k * batchSize * seqLength);
    for (let s = 0; s < k; s++) indices.set(drawSequenceIndices(data.train.count, batchSize, seqLength, rng), s * batchSize * seqLength);
    return indices;
  });
  const rates = new Array<number>(k).fill(1e-3);
  console.log(`cpu: ${os.cpus()[0]?.model.trim()} ×${os.availableParallelism()}, backend ${backend.name}, ` +
    `batch ${batchSize}, T ${seqLength}, ${calls * k} steps per block, ${k} per call, ${repeats} blocks per side`);
  for (const sharedCnn of [false, true]) {
    const model = buildCrnn({ seqLength, sharedCnn });
    const trainers = await Promise.all([true, false].map((poolFirst) => GraphTrainer.create(model, {
      poolFirst, sampler: { spec, stepsPerCall: k }, trainingSet: data.train,
    })));
    const block = (trainer: GraphTrainer, count: number) => {
      const start = performance.now();
      for (let c = 0; c < count; c++) {
        const out = trainer.runSteps(callIndices[c % calls], rates);
        out.dataSync();
        out.dispose();
      }
      return (performance.now() - start) / (count * k);
    };
    trainers.forEach((trainer) => block(trainer, 3)); // graph optimisation, kernels, caches
    const ms: [number[], number[]] = [[], []];
    for (let r = 0; r < repeats; r++) trainers.forEach((trainer, side) => ms[side].push(block(trainer, calls)));
    const [on, off] = ms.map(median);
    const show = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(', ');
    console.log(`${sharedCnn ? 'shared CNN  ' : 'per-step CNN'}: pool first ${on.toFixed(2)} ms/step [${show(ms[0])}], ` +
      `as written ${off.toFixed(2)} ms/step [${show(ms[1])}], ${(100 * (1 - on / off)).toFixed(1)}% less`);
    trainers.forEach((trainer) => trainer.dispose());
    disposeCrnn(model);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
