#!/usr/bin/env node
/**
 * The browser page of a saved run: draw digits, see what the network reads.
 *
 *   npm run demo                                serve the newest run under runs/
 *   npm run demo -- runs/fast --port 8080       serve that run
 *   npm run demo:build -- runs/fast --out site  write it as a static site
 *
 * See lib/demo/site.ts for what the site holds.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { buildSite, newestRun, serveSite, type BuiltSite } from '../lib/demo/site';
import { exitForSignal, ignoreClosedOutput, onStopSignals, percent, runMain } from './cli';

const RUNS_ROOT = 'runs';

function port(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new InvalidArgumentError('a port is an integer 0..65535 (0: any free one).');
  return value;
}

/** The run folder given, else the newest under runs/. */
async function chooseRun(given: string | undefined): Promise<string> {
  if (given !== undefined) return given;
  const newest = await newestRun(RUNS_ROOT);
  if (newest === null) {
    throw new Error(`no saved run under ${RUNS_ROOT}/ to show. Train one first; the fastest preset takes about ` +
      'a minute on two cores:\n  npm run train -- --preset fast\nthen run npm run demo again (or name a run folder: npm run demo -- RUN_DIR)');
  }
  return newest.dir;
}

const megabytes = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;

function describe(built: BuiltSite, runDir: string): string {
  const { run } = built.site;
  const accuracy = run.finalAccuracy === null ? 'not evaluated'
    : `${percent(run.finalAccuracy)} on ${run.trainConfig.evalSize.toLocaleString('en')} test sequences`;
  const model = built.files.filter((f) => f.path.startsWith('model/')).reduce((n, f) => n + f.bytes, 0);
  return `run ${runDir}: task ${run.task}, T = ${run.crnnConfig.seqLength}, ${accuracy}\n` +
    `site: ${megabytes(built.totalBytes)} (app.js ${megabytes(built.bundleBytes)}, model ${megabytes(model)})`;
}

function buildProgram(): Command {
  const program = new Command()
    .name('demo')
    .description('The browser page of a saved run: draw digits and see what the network reads.')
    .showHelpAfterError('(run with --help for the list of options)');
  program.command('serve', { isDefault: true })
    .description(`build the page of a run and serve it (default: the newest run under ${RUNS_ROOT}/)`)
    .argument('[run]', 'run folder')
    .option('--port <n>', 'port to serve on (0: any free one)', port, 8000)
    .option('--host <address>', 'address to serve on', '127.0.0.1')
    .allowExcessArguments(false)
    .action(async (run: string | undefined, opts: { port: number; host: string }) => {
      const runDir = await chooseRun(run);
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'crnn-demo-'));
      const cleanUp = () => fs.rm(dir, { recursive: true, force: true });
      try {
        const built = await buildSite(runDir, dir, { log: (line) => console.log(line) });
        console.log(describe(built, runDir));
        const { server, url } = await serveSite(dir, opts.port, opts.host);
        console.log(`serving the page at ${url} (Ctrl-C stops)`);
        onStopSignals((signal) => {
          server.close();
          void cleanUp().finally(() => exitForSignal(signal));
        });
      } catch (err) {
        await cleanUp();
        throw err;
      }
    });
  program.command('build')
    .description('write the page of a run as a static site, for any static host (no CDN; works offline)')
    .argument('[run]', `run folder (default: the newest run under ${RUNS_ROOT}/)`)
    .requiredOption('--out <dir>', 'folder to write (replaced if it holds a site built here)')
    .allowExcessArguments(false)
    .action(async (run: string | undefined, opts: { out: string }) => {
      const runDir = await chooseRun(run);
      const built = await buildSite(runDir, opts.out, { log: (line) => console.log(line) });
      console.log(describe(built, runDir));
      console.log(`wrote ${built.dir}; try it with: python3 -m http.server -d ${opts.out}`);
    });
  return program;
}

async function main(argv: string[]): Promise<void> {
  ignoreClosedOutput();
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    // Not a crash: a missing run, a taken port, a folder that is not a site. Said without a stack.
    console.error(`demo: ${(err as Error).message}`);
    process.exit(1);
  }
}

runMain(main);
