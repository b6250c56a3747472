/**
 * The browser test of the notebooks: starts a private JupyterLab, opens each
 * notebook in headless Chromium, checks the outputs it was committed with,
 * then runs all its cells from the menu with a small configuration and checks
 * what appears. Prints one PASS/FAIL/SKIP line per check and closes with
 * `N passed, N failed`; exits non-zero when a check failed.
 *
 *   node dist/e2e/run.js               the project's notebooks (notebooks/)
 *   node dist/e2e/run.js --fixtures    the test's own fixtures, including ones
 *                                      that must fail (an error, a hung cell)
 *   --only <text>    only notebooks whose file name contains <text>
 *   --dir <folder>   open the notebooks from <folder> instead of notebooks/
 *                    (e.g. copies executed by scripts/run-notebooks.py --output-dir)
 *   --saved-only / --run-only          one of the two passes
 *   --update-docs    also copy the README screenshot to docs/jupyterlab-training.png
 *
 * Environment: CRNN_VENV (default <repo>/.venv), CRNN_CHROMIUM (default
 * /usr/bin/chromium), CRNN_E2E_CELL_TIMEOUT_S (300), CRNN_E2E_NOTEBOOK_TIMEOUT_S (900).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './browser';
import {
  contentChecks, errorOutputs, ranEveryCell, stderrNotes,
  type CheckResult, type NotebookExpectation,
} from './checks';
import { FIXTURES, NOTEBOOKS, NOTEBOOK_RUN_PARAMETERS } from './expectations';
import { startJupyterLab, type JupyterLab } from './jupyter-server';
import {
  collapseLeftPanel, describeCell, injectParameters, openNotebook, readNotebook, runAllCells,
  screenshotCell, screenshotWholeNotebook, waitForImages,
  type NotebookState,
} from './notebook-page';

const REPO = path.resolve(__dirname, '..', '..');
const ARTIFACTS = path.join(REPO, 'artifacts', 'e2e');
const VIEWPORT = { width: 1280, height: 960 };
const OPEN_TIMEOUT_MS = 90_000;

function seconds(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number of seconds, got ${JSON.stringify(raw)}`);
  return value;
}

/** The PASS/FAIL tally; prints each check as it comes. */
class Report {
  passed = 0;
  failed = 0;

  add(result: CheckResult): void {
    if (result.status === 'pass') this.passed++;
    if (result.status === 'fail') this.failed++;
    console.log(`${result.status.toUpperCase().padEnd(4)} ${result.name} — ${result.detail}`);
  }

  note(text: string): void {
    console.log(`     ${text}`);
  }
}

interface Session {
  lab: JupyterLab;
  browser: Browser;
  report: Report;
  cellTimeoutMs: number;
  notebookTimeoutMs: number;
  /** The notebooks run so far, in order. */
  ran: string[];
  /** Copy the README screenshot into docs/. */
  updateDocs: boolean;
  /** Set once the README screenshot is saved (from the saved notebook if it shows the chart, else from the run). */
  docsWritten?: boolean;
  /** The parameters of the browser run, as TypeScript literals; each notebook gets those it declares. */
  parameters: Record<string, string>;
}

/** Opens a page on a notebook, runs `body`, then closes the page and shuts its kernels down. */
async function withNotebookPage<T>(
  session: Session, file: string, body: (page: Page, url: string) => Promise<T>,
): Promise<T> {
  const context = await session.browser.newContext({ viewport: VIEWPORT });
  try {
    const page = await context.newPage();
    const workspace = `e2e-${crypto.randomBytes(4).toString('hex')}`;
    return await body(page, session.lab.notebookUrl(file, workspace));
  } finally {
    await context.close().catch(() => undefined);
    const sessions = (await session.lab.api('GET', '/api/sessions').catch(() => [])) as { id: string; path: string }[];
    for (const s of sessions.filter((s) => s.path === file || s.path.endsWith(`/${file}`))) {
      await session.lab.api('DELETE', `/api/sessions/${s.id}`).catch(() => undefined);
    }
  }
}

/**
 * The source of the cell that sets the run's parameters in a notebook: those
 * its `parameters` cell declares with let, assigned as scripts/run-notebooks.py
 * does. Undefined when the notebook has no parameters cell or declares none.
 */
function injectedSource(file: string, parameters: Record<string, string>): string | undefined {
  const nb = JSON.parse(fs.readFileSync(file, 'utf8')) as
    { cells: { cell_type: string; source: string | string[]; metadata?: { tags?: string[] } }[] };
  const cell = nb.cells.find((c) => c.cell_type === 'code' && c.metadata?.tags?.includes('parameters'));
  if (!cell) return undefined;
  const source = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
  const declared = new Set([...source.matchAll(/^(?:let|var)\s+([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]));
  const lines = Object.entries(parameters).filter(([name]) => declared.has(name)).map(([name, value]) => `  ${name} = ${value};`);
  if (lines.length === 0) return undefined;
  return ['// Injected by the browser test: these values replace the parameters above.', '{', ...lines, '}'].join('\n');
}

function hasSavedOutputs(file: string): boolean {
  const nb = JSON.parse(fs.readFileSync(file, 'utf8')) as { cells: { outputs?: unknown[] }[] };
  return nb.cells.some((c) => (c.outputs ?? []).length > 0);
}

function stem(file: string): string {
  return path.basename(file, '.ipynb');
}

/**
 * Saves the window-sized screenshot the README shows, centred on the picture
 * the expectation names, when that picture's check passed. Returns whether it did.
 */
async function saveDocsScreenshot(
  session: Session, page: Page, state: NotebookState, expected: NotebookExpectation, checks: CheckResult[],
): Promise<boolean> {
  const docs = expected.docsScreenshot;
  const visual = docs && expected.visuals.find((v) => v.what === docs.around);
  if (!docs || !visual) return false;
  if (!checks.some((c) => c.name.endsWith(`shows the ${visual.what}`) && c.status === 'pass')) return false;
  const cell = state.cells.find((c) => c.type === 'code' && visual.source.test(c.source));
  const shot = path.join(ARTIFACTS, path.basename(docs.path));
  if (!cell || !(await screenshotCell(page, cell.number - 1, shot))) return false;
  session.report.note(`screenshot: ${path.relative(REPO, shot)}`);
  if (session.updateDocs) {
    // Only on request: a tracked file that changed with every test run would never stay committed.
    const target = path.join(REPO, docs.path);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(shot, target);
    session.report.note(`updated ${docs.path}`);
  }
  return true;
}

/** Check 1: the notebook as committed, opened without running, shows its saved outputs. */
async function checkSaved(session: Session, rootDir: string, expected: NotebookExpectation): Promise<CheckResult[]> {
  const label = `${expected.file} (saved)`;
  const file = path.join(rootDir, expected.file);
  if (!hasSavedOutputs(file)) {
    return [{ name: `${label}: shows its saved outputs`, status: 'skip', detail: `${expected.file} has no saved outputs yet` }];
  }
  return withNotebookPage(session, expected.file, async (page, url) => {
    await openNotebook(page, url, OPEN_TIMEOUT_MS);
    await collapseLeftPanel(page);
    await waitForImages(page);
    const state = await readNotebook(page);
    const checks = contentChecks(label, state, expected);
    const shot = path.join(ARTIFACTS, `${stem(expected.file)}-saved.png`);
    await screenshotWholeNotebook(page, shot, VIEWPORT.width);
    session.report.note(`screenshot: ${path.relative(REPO, shot)}`);
    // The committed outputs come from a full-size run: the better picture for the README, when they show.
    if (errorOutputs(state).length === 0) session.docsWritten ||= await saveDocsScreenshot(session, page, state, expected, checks);
    return checks;
  });
}

/** Check 2: Run → Run All Cells in the browser; the outputs appear, without errors, in time. */
async function checkRun(session: Session, rootDir: string, expected: NotebookExpectation): Promise<CheckResult[]> {
  const label = `${expected.file} (run)`;
  const file = path.join(rootDir, expected.file);
  const before = fs.readFileSync(file);
  const results = await withNotebookPage(session, expected.file, async (page, url) => {
    await openNotebook(page, url, OPEN_TIMEOUT_MS);
    await collapseLeftPanel(page);
    const injected = injectedSource(file, session.parameters);
    if (injected) {
      const number = await injectParameters(page, injected);
      session.report.note(`${expected.file}: parameters set in cell ${number}: ${injected.split('\n').slice(2, -1).map((l) => l.trim()).join(' ')}`);
    }
    const run = await runAllCells(page, {
      cellTimeoutMs: session.cellTimeoutMs,
      notebookTimeoutMs: session.notebookTimeoutMs,
      onCellStart: (cell) => session.report.note(`${expected.file}: running ${describeCell(cell)}`),
    });
    await waitForImages(page);
    const state = run.timeout ? run.state : await readNotebook(page);
    const checks: CheckResult[] = [{
      name: `${label}: finishes within the time limits`,
      status: run.timeout ? 'fail' : 'pass',
      detail: run.timeout ?? `kernel idle after ${run.seconds.toFixed(1)} s`,
    }];
    if (!run.timeout) checks.push(ranEveryCell(label, state));
    checks.push(...contentChecks(label, state, {
      ...expected, texts: [...expected.texts, ...(expected.runTexts ?? [])],
    }, session.ran));
    session.ran.push(expected.file);
    for (const line of stderrNotes(state)) session.report.note(line);

    const shot = path.join(ARTIFACTS, `${stem(expected.file)}-run.png`);
    await screenshotWholeNotebook(page, shot, VIEWPORT.width);
    session.report.note(`screenshot: ${path.relative(REPO, shot)}`);
    if (!session.docsWritten && errorOutputs(state).length === 0 && !run.timeout) {
      session.docsWritten ||= await saveDocsScreenshot(session, page, state, expected, checks);
    }
    return checks;
  });
  const unchanged = Buffer.compare(before, fs.readFileSync(file)) === 0;
  results.push({
    name: `${label}: leaves the notebook file unchanged`,
    status: unchanged ? 'pass' : 'fail',
    detail: unchanged ? 'autosave is off; nothing was written' : `${expected.file} was modified by the browser run`,
  });
  return results;
}

/**
 * The fixtures that must fail: the test passes when it reports them, naming
 * the cell. This is what shows that a broken or hung notebook cannot pass.
 */
async function checkFailureDetection(session: Session, rootDir: string): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const expectFailure = (name: string, results: CheckResult[], check: string, detail: RegExp): void => {
    const hit = results.find((r) => r.name.endsWith(check) && r.status === 'fail' && detail.test(r.detail));
    out.push({
      name,
      status: hit ? 'pass' : 'fail',
      detail: hit ? `reported: ${hit.detail}` : `expected a failed "${check}" matching ${detail}, got: ` +
        results.map((r) => `${r.status} ${r.name} (${r.detail})`).join('; '),
    });
  };
  const broken = await checkRun(session, rootDir, FIXTURES.broken);
  expectFailure('detects a failed cell and names it', broken, 'no cell shows an error', /cell 3 .*failed: Error: boom in cell three/);
  expectFailure('detects the cells left unrun after an error', broken, 'every code cell ran', /1 not run, first cell 4/);

  const brokenSaved = await checkSaved(session, rootDir, FIXTURES.broken);
  expectFailure('detects an error saved in a notebook (a stack trace on stderr)', brokenSaved, 'no cell shows an error',
    /cell 3 .*shows an error on stderr: Error: boom in cell three/);

  const shortLimits: Session = { ...session, cellTimeoutMs: 6_000 };
  const hung = await checkRun(shortLimits, rootDir, FIXTURES.hang);
  expectFailure('stops waiting for a hung cell and names it', hung, 'finishes within the time limits', /cell 2 .*still running after 6 s/);

  const untrusted = await checkSaved(session, rootDir, FIXTURES.smokeSavedRawSvg);
  expectFailure('sees that an untrusted notebook hides its image/svg+xml output', untrusted,
    'shows the bar chart (image/svg+xml)', /0 of 1 needed pictures .*outputs: image\/svg\+xml/);
  return out;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      fixtures: { type: 'boolean', default: false },
      only: { type: 'string' },
      dir: { type: 'string' },
      'saved-only': { type: 'boolean', default: false },
      'run-only': { type: 'boolean', default: false },
      'update-docs': { type: 'boolean', default: false },
    },
  });
  const fixtures = values.fixtures === true;
  const rootDir = path.resolve(values.dir ?? (fixtures ? path.join(REPO, 'e2e', 'fixtures') : path.join(REPO, 'notebooks')));
  const all: { saved: NotebookExpectation; run: NotebookExpectation }[] = fixtures
    ? [{ saved: FIXTURES.smokeSaved, run: FIXTURES.smokeRun }]
    : NOTEBOOKS.map((n) => ({ saved: n, run: n }));
  const notebooks = all.filter((n) => !values.only || n.run.file.includes(values.only));
  if (notebooks.length === 0) throw new Error(`no notebook matches --only ${JSON.stringify(values.only)}`);
  const report = new Report();
  fs.mkdirSync(ARTIFACTS, { recursive: true });

  let lab: JupyterLab | undefined;
  let browser: Browser | undefined;
  let runDir: string | undefined;
  // One shutdown, whichever comes first: the end of the run, an error, or a signal.
  let shutdown: Promise<void> | undefined;
  let interrupted: string | undefined;
  const cleanup = (): Promise<void> => shutdown ??= (async () => {
    await browser?.close().catch(() => undefined);
    await lab?.stop();
    if (runDir) fs.rmSync(runDir, { recursive: true, force: true });
  })();
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.once(signal, () => {
      interrupted = signal;
      console.error(`\n${signal}: shutting down Chromium and JupyterLab`);
      void cleanup().finally(() => process.exit(code));
    });
  }
  // If the process ends any other way (a second signal, an uncaught error), kill what is left.
  process.once('exit', () => lab?.killNow());

  const started = Date.now();
  try {
    // The training notebook saves its run; 04 reads it back. Both use this folder.
    runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'crnn-e2e-runs-'));
    // The fixtures check that the server's environment reaches the kernels.
    const env: Record<string, string> = fixtures ? { CRNN_STEPS: '7' } : {};
    const parameters = fixtures ? {} : { ...NOTEBOOK_RUN_PARAMETERS, runDir: JSON.stringify(path.join(runDir, 'notebook-model')) };
    report.note(`JupyterLab on ${path.relative(REPO, rootDir)}/` +
      Object.entries(env).map(([k, v]) => ` with ${k}=${v}`).join('') +
      (fixtures ? '' : `; notebook parameters ${Object.entries(parameters).map(([k, v]) => `${k}=${String(v)}`).join(' ')}`));
    lab = await startJupyterLab({
      venv: process.env.CRNN_VENV ?? path.join(REPO, '.venv'),
      rootDir,
      tslabBin: path.join(REPO, 'node_modules', '.bin', 'tslab'),
      env,
      logFile: path.join(ARTIFACTS, 'jupyter-server.log'),
    });
    browser = await launchChromium(process.env.CRNN_CHROMIUM ?? '/usr/bin/chromium');
    report.note(`JupyterLab ${lab.baseUrl}, Chromium ${browser.version()}, up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const session: Session = {
      lab, browser, report, ran: [], updateDocs: values['update-docs'] === true, parameters,
      cellTimeoutMs: seconds('CRNN_E2E_CELL_TIMEOUT_S', 300) * 1000,
      notebookTimeoutMs: seconds('CRNN_E2E_NOTEBOOK_TIMEOUT_S', 900) * 1000,
    };
    for (const { saved, run } of notebooks) {
      const file = path.join(rootDir, run.file);
      if (!fs.existsSync(file)) {
        report.add({ name: `${run.file}: exists`, status: 'fail', detail: `${path.relative(REPO, file)} is missing` });
        continue;
      }
      if (!values['run-only']) for (const r of await checkSaved(session, rootDir, saved)) report.add(r);
      if (!values['saved-only']) for (const r of await checkRun(session, rootDir, run)) report.add(r);
    }
    if (fixtures && !values['saved-only'] && !values.only) {
      for (const r of await checkFailureDetection(session, rootDir)) report.add(r);
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    report.add({ name: 'browser test', status: 'fail', detail: interrupted ? `interrupted by ${interrupted}` : message });
  } finally {
    await cleanup();
  }
  report.note(`took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  console.log(`${report.passed} passed, ${report.failed} failed`);
  return report.failed === 0 ? 0 : 1;
}

main().then((code) => {
  process.exitCode = code;
}, (err) => {
  console.error(err);
  console.log('0 passed, 1 failed');
  process.exitCode = 1;
});
