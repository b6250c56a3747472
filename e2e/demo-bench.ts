/**
 * Measures the page of a saved run in headless Chromium: what it downloads,
 * the time from navigation to its first prediction, and the time per
 * prediction of one sequence on each backend. Measured, never asserted.
 *
 *   node dist/e2e/demo-bench.js RUN_DIR [--loads 5] [--predictions 30] [--out bench/results/demo-page]
 *
 * Writes <out>.md and <out>.json. WebGL here is Chromium's SwiftShader (the
 * GPU emulated on the CPU), unless Chromium finds a GPU.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { launchChromium } from './browser';
import { hooks, open } from './demo-page';
import { buildSite, serveSite } from '../lib/demo/site';
import { markdownTable } from '../lib/view/tables';

const REPO = path.resolve(__dirname, '..', '..');
const BACKENDS = ['webgl', 'wasm', 'cpu'];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      loads: { type: 'string', default: '5' },
      predictions: { type: 'string', default: '30' },
      out: { type: 'string', default: path.join('bench', 'results', 'demo-page') },
    },
  });
  const runDir = positionals[0];
  if (runDir === undefined) throw new Error('usage: node dist/e2e/demo-bench.js RUN_DIR [--loads N] [--predictions N] [--out PATH]');
  const loads = Number(values.loads);
  const predictions = Number(values.predictions);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'crnn-demo-bench-'));
  const browser = await launchChromium(process.env.CRNN_CHROMIUM ?? '/usr/bin/chromium');
  try {
    const built = await buildSite(runDir, path.join(work, 'site'));
    const { server, url } = await serveSite(built.dir, 0);
    const rows: Record<string, number | string>[] = [];
    let renderer = 'none';
    try {
      for (const backend of BACKENDS) {
        const ready: number[] = [];
        let perPrediction = NaN;
        for (let load = 0; load < loads; load++) {
          const page = await open(browser, `${url}?backend=${backend}&sample=0,1`);
          const state = await hooks(page);
          if (state.state !== 'ready') throw new Error(`${backend}: ${state.error}`);
          ready.push(state.readyMs!);
          if (load === loads - 1) {
            perPrediction = await page.evaluate((n) => window.crnnDemo.timePredictions!(n), predictions);
            if (backend === 'webgl') {
              renderer = await page.evaluate(() => {
                const gl = document.createElement('canvas').getContext('webgl2');
                const info = gl?.getExtension('WEBGL_debug_renderer_info');
                return gl && info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : 'unknown';
              });
            }
          }
          await page.close();
        }
        rows.push({ backend, readyMs: median(ready), readyMinMs: Math.min(...ready), readyMaxMs: Math.max(...ready), perPredictionMs: perPrediction });
      }
    } finally {
      server.close();
    }
    const { run } = built.site;
    const model = built.files.filter((f) => f.path.startsWith('model/')).reduce((n, f) => n + f.bytes, 0);
    const wasm = built.files.filter((f) => f.path.startsWith('wasm/'));
    const result = {
      run: run.name,
      model: { crnnConfig: built.site.run.crnnConfig, bytes: model },
      bundleBytes: built.bundleBytes,
      siteBytes: built.totalBytes,
      wasmBytes: Object.fromEntries(wasm.map((f) => [f.path, f.bytes])),
      digitsBytes: built.files.find((f) => f.path === 'digits.bin')?.bytes,
      loads, predictions, rows,
      machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, chromium: browser.version(), webglRenderer: renderer },
      measuredAt: new Date().toISOString(),
    };
    const table = markdownTable(['backend', 'to first prediction (median, min–max)', 'per prediction'],
      rows.map((r) => [String(r.backend), `${(r.readyMs as number).toFixed(0)} ms (${(r.readyMinMs as number).toFixed(0)}–${(r.readyMaxMs as number).toFixed(0)})`,
        `${(r.perPredictionMs as number).toFixed(1)} ms`]));
    const accuracy = run.finalAccuracy === null ? 'not evaluated'
      : `${(100 * run.finalAccuracy).toFixed(2)}% on ${run.trainConfig.evalSize.toLocaleString('en')} test sequences`;
    const text = `# The page of a run, measured\n\n` +
      `Run \`${run.name}\` (${run.task}, T = ${run.crnnConfig.seqLength}, ${run.steps} steps, ${accuracy}); ${loads} loads per backend from a local server, ${predictions} timed predictions of one sequence after one untimed.\n` +
      `${result.machine.cpu} (${result.machine.cores} cores), Chromium ${result.machine.chromium}, headless; WebGL: ${renderer}.\n\n` +
      `Downloads: app.js ${mib(built.bundleBytes)}, model ${mib(model)} (model.json and weights.bin as saved, Adam's state included), ` +
      `test digits ${mib(result.digitsBytes ?? 0)}, one WASM binary of ${wasm.map((f) => mib(f.bytes)).join(' / ')} on the WebAssembly backend; ` +
      `the whole site ${mib(built.totalBytes)}.\n\n${table}\n`;
    const out = path.resolve(REPO, values.out);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(`${out}.md`, text);
    fs.writeFileSync(`${out}.json`, `${JSON.stringify(result, null, 1)}\n`);
    console.log(text);
  } finally {
    await browser.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
