/**
 * What training checkpoints cost (lib/train/checkpoint.ts): the default
 * run's model and settings (the article's), trained for `steps` steps with
 * checkpoints every `every` steps and without, alternating, `repeats` of
 * each. Per run: the wall time of training from the history (engine start
 * to the last evaluation, evaluations and checkpoints included), the
 * process's CPU time over the same span (user + system, all threads: on a
 * machine other jobs load, CPU time varies less than wall time), and the
 * checkpoints' own time as the history records it (the graph engine's copy
 * of its state into the model included).
 *
 *   node dist/bench/checkpoint-cost.js [steps=600] [every=200] [repeats=3]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { backend } from '../lib/tf';
import { buildCrnn, disposeCrnn } from '../lib/model/build';
import { resolveCrnnConfig, resolveTrainConfig } from '../lib/config';
import { trainSteps, CHECKPOINT_TIME_SHARE } from '../lib/train/loop';
import { writeCheckpoint } from '../lib/train/checkpoint';
import { CHECKPOINT_FOLDER } from '../lib/runs/record';
import { loadMnist } from '../lib/data/data';
import { getTask } from '../lib/data/tasks';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const [steps, every, repeats] = [600, 200, 3].map((fallback, k) => Number(process.argv[2 + k] ?? fallback));
  const data = loadMnist();
  const task = getTask('difference', 2);
  const crnnConfig = resolveCrnnConfig({ numClasses: task.numClasses });
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'checkpoint-cost-'));
  console.log(`cpu: ${os.cpus()[0]?.model.trim()} ×${os.availableParallelism()}, backend ${backend.name}; ` +
    `the default run's model and settings, ${steps} steps, checkpoints every ${every} steps ` +
    `(and at evaluations within ${100 * CHECKPOINT_TIME_SHARE}% of the time) against none, ${repeats} runs of each, alternating`);
  const elapsed: Record<'with' | 'without', number[]> = { with: [], without: [] };
  const cpu: Record<'with' | 'without', number[]> = { with: [], without: [] };
  let checkpoints = 0;
  let checkpointMs = 0;
  let engine = '';
  for (let r = 0; r < repeats; r++) {
    for (const side of ['without', 'with'] as const) {
      const trainConfig = resolveTrainConfig({ numSteps: steps, checkpointEvery: side === 'with' ? every : 0 });
      const model = buildCrnn(crnnConfig, { seed: trainConfig.seed });
      const run = { model, crnnConfig, trainConfig, task: task.name, data };
      const runDir = path.join(folder, `${side}-${r}`);
      let cpuStart: NodeJS.CpuUsage | undefined;
      const history = await trainSteps(model, data, { ...trainConfig, seqLength: 2, task }, {
        // Training starts when the engine is ready: from the first step's end, as near as a callback gets.
        onStep: () => {
          cpuStart ??= process.cpuUsage();
        },
        saveCheckpoint: (state) => writeCheckpoint(runDir, run, state),
      });
      const used = process.cpuUsage(cpuStart);
      cpu[side].push((used.user + used.system) / 1000);
      engine = `${history.engine} engine, ${history.sampler} sampler`;
      elapsed[side].push(history.elapsedMs);
      checkpoints += history.checkpoints?.count ?? 0;
      checkpointMs += history.checkpoints?.ms ?? 0;
      const bytes = side === 'with' ? fs.readdirSync(path.join(runDir, CHECKPOINT_FOLDER))
        .reduce((n, name) => n + fs.statSync(path.join(runDir, CHECKPOINT_FOLDER, name)).size, 0) : 0;
      console.log(`run ${r + 1} ${side.padEnd(7)} checkpoints: ${(history.elapsedMs / 1000).toFixed(2)} s, ` +
        `CPU ${(cpu[side].at(-1)! / 1000).toFixed(2)} s` +
        (history.checkpoints ? `; ${history.checkpoints.count} checkpoints, ${history.checkpoints.ms.toFixed(0)} ms` : '') +
        (bytes ? `, checkpoint folder ${(bytes / 2 ** 20).toFixed(1)} MiB` : ''));
      disposeCrnn(model);
    }
  }
  fs.rmSync(folder, { recursive: true, force: true });
  const ratio = (times: Record<'with' | 'without', number[]>, unit: string) => {
    const [a, b] = [median(times.with), median(times.without)];
    return `${unit} with ${(a / 1000).toFixed(2)} s, without ${(b / 1000).toFixed(2)} s, ratio ${(a / b).toFixed(4)}`;
  };
  console.log(`${engine}; medians: ${ratio(elapsed, 'wall')}; ${ratio(cpu, 'CPU')}`);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  console.log(`${checkpoints} checkpoints (${(checkpoints / repeats).toFixed(1)} per run), ${(checkpointMs / checkpoints).toFixed(0)} ms ` +
    `each on average: ${(100 * checkpointMs / sum(elapsed.with)).toFixed(2)}% of the wall time of the runs with them`);
  const withoutMs = median(elapsed.without);
  const stepsPerSecond = steps / (withoutMs / 1000);
  console.log(`without checkpoints ${stepsPerSecond.toFixed(1)} steps/s, evaluations included: ` +
    `a minute is ${Math.round(60 * stepsPerSecond)} steps`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
