/**
 * The browser page of a saved run as a static site, and a small server for it
 * (`npm run demo`, `npm run demo:build`; see bin/demo.ts).
 *
 * The site is one folder that any static host serves as it is, offline:
 *
 *   index.html, style.css   the page (demo/)
 *   app.js                  demo/page.ts bundled by esbuild with TensorFlow.js
 *                           and the model code of lib/model/ (no CDN)
 *   wasm/                   the binaries of tfjs's WebAssembly backend
 *   model/                  the run's model.json and weights, as the trainer saved them
 *   digits.bin              a sample of test digits (labels, then images)
 *   site.json               the run as the page shows it, and its digit probes
 *
 * Node only: it loads the run with tfjs-node to fit its digit probes again.
 */
import { promises as fs } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as esbuild from 'esbuild';
import { loadRuns, listRuns, type RunSummary } from '../runs/registry';
import { loadRun } from '../runs/persist';
import { MODEL_FILE } from '../runs/record';
import { fitDigitProbes, sampleImages } from '../evaluate/probe';
import { loadMnist } from '../data/data';
import { disposeCrnn } from '../model/build';
import { encodeDigits, SITE_FILE, SITE_FORMAT, SITE_VERSION, type SiteData, type SiteProbe } from './site-data';

/** The repository: dist/lib/demo/ → three levels up. */
const REPO = path.resolve(__dirname, '..', '..', '..');
/** The page's sources. */
export const DEMO_SOURCES = path.join(REPO, 'demo');
const STATIC_FILES = ['index.html', 'style.css'];
const MODEL_FOLDER = 'model';
const DIGITS_FILE = 'digits.bin';
/** Test digits shipped with the page, and the seed that draws them. */
export const SAMPLE_DIGITS = 500;
const SAMPLE_SEED = 'demo-digits';

/**
 * The newest saved run (by its save date) under `root` that still holds its
 * model, or null when there is none (or no `root`).
 */
export async function newestRun(root = 'runs'): Promise<RunSummary | null> {
  const exists = await fs.stat(root).then((s) => s.isDirectory(), () => false);
  if (!exists) return null;
  const { runs } = await listRuns(root);
  return runs.filter((run) => run.hasModel)
    .reduce<RunSummary | null>((newest, run) => (newest === null || run.savedAt > newest.savedAt ? run : newest), null);
}

/** One file of a built site. */
export interface SiteFile {
  /** Relative to the site's folder, with '/'. */
  path: string;
  bytes: number;
}

/** What `buildSite` wrote. */
export interface BuiltSite {
  dir: string;
  site: SiteData;
  files: SiteFile[];
  /** app.js, the bundled page with TensorFlow.js. */
  bundleBytes: number;
  totalBytes: number;
}

export interface BuildSiteOptions {
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/**
 * Builds the static site of the run saved in `runDir` into `outDir` (see the
 * top of this file). The run's digit probes, when it recorded them, are
 * fitted again as the trainer fitted them (`fitDigitProbes` on the recorded
 * numbers of digits: deterministic), so that the page reads digits with them.
 *
 * All or nothing: the site is written into a sibling folder that replaces
 * `outDir` once complete.
 * @throws Error when `runDir` is not a saved run with its model, when
 *   `outDir` exists and is neither empty nor a site built here (it is not
 *   replaced then), or when bundling fails.
 */
export async function buildSite(runDir: string, outDir: string, options: BuildSiteOptions = {}): Promise<BuiltSite> {
  const log = options.log ?? (() => {});
  const [summary] = await loadRuns([runDir]);
  if (!summary.hasModel) throw new Error(`${runDir} holds no model.json: its weights were deleted, so it cannot be shown`);
  const target = path.resolve(outDir);
  await checkReplaceable(target);
  const staging = `${target}.building-${randomBytes(4).toString('hex')}`;
  await fs.mkdir(staging, { recursive: true });
  try {
    const site = await writeSite(runDir, summary, staging, log);
    await fs.rm(target, { recursive: true, force: true });
    await fs.rename(staging, target);
    const files = await listFiles(target);
    const totalBytes = files.reduce((n, f) => n + f.bytes, 0);
    const bundleBytes = files.find((f) => f.path === 'app.js')?.bytes ?? 0;
    return { dir: target, site, files, bundleBytes, totalBytes };
  } catch (err) {
    await fs.rm(staging, { recursive: true, force: true });
    throw err;
  }
}

/** @throws Error when `dir` exists and is neither an empty folder nor a site (it has site.json). */
async function checkReplaceable(dir: string): Promise<void> {
  const entries = await fs.readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw new Error(`${dir} exists and cannot be listed as a folder (${err.code ?? err.message}); choose another --out`);
  });
  if (entries !== null && entries.length > 0 && !entries.includes(SITE_FILE)) {
    throw new Error(`${dir} is not empty and holds no ${SITE_FILE}: not a site built here, so it is not replaced; choose another --out`);
  }
}

async function writeSite(runDir: string, summary: RunSummary, dir: string, log: (line: string) => void): Promise<SiteData> {
  const loaded = await loadRun(runDir);
  try {
    await copyModel(runDir, path.join(dir, MODEL_FOLDER));
    if (loaded.dataLocation === undefined) {
      throw new Error(`${runDir}: its run.json does not say where its digits came from (dataLocation)`);
    }
    const data = loadMnist({ source: loaded.dataLocation });
    const { indices, labels } = sampleImages(data.test, Math.min(SAMPLE_DIGITS, data.test.count), SAMPLE_SEED);
    const pixels = data.test.height * data.test.width;
    const images = new Uint8Array(indices.length * pixels);
    indices.forEach((index, k) => images.set(data.test.images.subarray(index * pixels, (index + 1) * pixels), k * pixels));
    await fs.writeFile(path.join(dir, DIGITS_FILE), encodeDigits({ labels: Uint8Array.from(labels), images }));

    let probe: SiteProbe | null = null;
    if (loaded.digitProbe !== undefined) {
      const { trainDigits, testDigits } = loaded.digitProbe;
      log(`fitting the digit probes again as the trainer did (${trainDigits.toLocaleString('en')} training digits, ` +
        `measured on ${testDigits.toLocaleString('en')} test digits)…`);
      const probes = fitDigitProbes(loaded.model, data, { trainDigits, testDigits });
      probe = { featureLayers: probes.featureLayers, readouts: probes.readouts, accuracy: probes.record.accuracy };
      const show = (ps: number[]) => ps.map((p) => `${(100 * p).toFixed(2)}%`).join(', ');
      log(`digit probes: p = ${show(probe.accuracy)} (run.json: ${show(loaded.digitProbe.accuracy)})`);
    }

    const site: SiteData = {
      format: SITE_FORMAT,
      version: SITE_VERSION,
      builtAt: new Date().toISOString(),
      run: {
        name: path.basename(path.resolve(runDir)),
        task: summary.task,
        crnnConfig: summary.crnnConfig,
        trainConfig: summary.trainConfig,
        steps: summary.steps,
        finalAccuracy: summary.finalAccuracy,
        elapsedSeconds: summary.elapsedSeconds,
        savedAt: summary.savedAt,
        backend: summary.backend,
        cpu: summary.cpu,
        digitProbe: loaded.digitProbe ?? null,
      },
      model: `${MODEL_FOLDER}/${MODEL_FILE}`,
      digits: {
        file: DIGITS_FILE, count: indices.length, height: data.test.height, width: data.test.width,
        source: `${indices.length} digits of the test split (${data.source}), drawn with the seed '${SAMPLE_SEED}'`,
      },
      probe,
    };
    await fs.writeFile(path.join(dir, SITE_FILE), JSON.stringify(site));
    await bundlePage(dir);
    return site;
  } finally {
    disposeCrnn(loaded.model);
  }
}

/** Copies model.json and the weight files it lists, byte for byte. */
async function copyModel(runDir: string, dir: string): Promise<void> {
  await fs.mkdir(dir);
  const modelPath = path.join(runDir, MODEL_FILE);
  const modelJson = JSON.parse(await fs.readFile(modelPath, 'utf8')) as { weightsManifest: { paths: string[] }[] };
  await fs.copyFile(modelPath, path.join(dir, MODEL_FILE));
  for (const file of modelJson.weightsManifest.flatMap((group) => group.paths)) {
    // loadRun has checked that they exist; a path leaving the run folder is no weight file of a saved run.
    if (file !== path.basename(file)) throw new Error(`${modelPath} lists a weights file outside its folder: ${file}`);
    await fs.copyFile(path.join(runDir, file), path.join(dir, file));
  }
}

/**
 * Bundles demo/page.ts into `dir`/app.js with esbuild (minified, for
 * browsers), copies the page's HTML and CSS and the WASM backend's binaries.
 * @throws Error when the bundle would hold a Node-only module.
 */
export async function bundlePage(dir: string): Promise<void> {
  const result = await esbuild.build({
    entryPoints: [path.join(DEMO_SOURCES, 'page.ts')],
    outfile: path.join(dir, 'app.js'),
    bundle: true, minify: true, format: 'esm', platform: 'browser', target: ['es2020'],
    define: { 'process.env.NODE_ENV': '"production"' },
    legalComments: 'none', metafile: true, logLevel: 'silent', absWorkingDir: REPO,
  });
  const nodeOnly = Object.keys(result.metafile.inputs)
    .filter((file) => file === 'lib/tf.ts' || file.includes('tfjs-node') || file.startsWith('node:'));
  if (nodeOnly.length > 0) throw new Error(`the page's bundle would hold Node-only modules: ${nodeOnly.join(', ')}`);
  for (const file of STATIC_FILES) await fs.copyFile(path.join(DEMO_SOURCES, file), path.join(dir, file));
  const wasmDir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  await fs.mkdir(path.join(dir, 'wasm'));
  for (const file of (await fs.readdir(wasmDir)).filter((f) => f.endsWith('.wasm'))) {
    await fs.copyFile(path.join(wasmDir, file), path.join(dir, 'wasm', file));
  }
}

async function listFiles(dir: string, prefix = ''): Promise<SiteFile[]> {
  const files: SiteFile[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) files.push(...await listFiles(full, relative));
    else files.push({ path: relative, bytes: (await fs.stat(full)).size });
  }
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json', '.wasm': 'application/wasm', '.bin': 'application/octet-stream', '.png': 'image/png',
};

/**
 * Serves the files of `dir` over HTTP (GET and HEAD; `/` is index.html),
 * nothing outside it.
 * @param port 0 for any free port.
 * @returns the server, listening, and its address as a URL.
 * @throws Error when the port is taken or cannot be used.
 */
export async function serveSite(dir: string, port: number, host = '127.0.0.1'): Promise<{ server: http.Server; url: string }> {
  const root = path.resolve(dir);
  const server = http.createServer((request, response) => {
    void (async () => {
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.writeHead(405, { Allow: 'GET, HEAD' }).end();
        return;
      }
      let name: string;
      try {
        name = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
      } catch {
        response.writeHead(400).end('bad path');
        return;
      }
      const file = path.join(root, name.endsWith('/') ? `${name}index.html` : name);
      const inside = file.startsWith(root + path.sep);
      const body = inside ? await fs.readFile(file).catch(() => null) : null;
      if (body === null) {
        response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${name} not found`);
        return;
      }
      response.writeHead(200, {
        'Content-Type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
        'Content-Length': body.length,
        'Cache-Control': 'no-store',
      });
      response.end(request.method === 'HEAD' ? undefined : body);
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new Error(err.code === 'EADDRINUSE' ? `port ${port} is in use: choose another with --port` : `cannot serve on ${host}:${port}: ${err.message}`));
    });
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}/` };
}
