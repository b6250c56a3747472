/**
 * One notebook opened in JupyterLab, driven the way a person does it: the
 * page is opened by URL and cells are run from the menu bar. What the page
 * shows is read from the DOM. Whether a cell failed is read from the kernel's
 * replies, through the app JupyterLab exposes with
 * `--LabApp.expose_app_in_browser`: tslab reports a failed cell only by an
 * execute_reply with status "error" and prints the exception to stderr, so
 * the page shows it exactly like any other stderr output.
 */
import type { Page } from 'playwright-core';

/** One output of a cell, as the notebook model holds it. */
export interface OutputSummary {
  /** nbformat output_type: 'stream', 'display_data', 'execute_result' or 'error'. */
  type: string;
  /** For streams: 'stdout' or 'stderr'. */
  name?: string;
  /** Its mime types, for display data and results. */
  mimeTypes?: string[];
  /** For errors: the exception. */
  ename?: string;
  evalue?: string;
  /** For streams: the start of the text. */
  text?: string;
}

export interface CellSummary {
  /** Position in the notebook, counting from 1 as a person would. */
  number: number;
  type: string;
  /** The first line of the source with words in it, to name the cell in messages. */
  firstLine: string;
  source: string;
  /** The input prompt as shown: '[3]:', '[*]:' (queued or running) or '[ ]:'. */
  prompt: string;
  outputs: OutputSummary[];
  /** The status of the kernel's last reply to running this cell in this page: 'ok', 'error', 'abort'. */
  replyStatus?: string;
}

/** An image or chart shown in an output area. */
export interface Visual {
  cell: number;
  tag: 'img' | 'svg';
  mimeType: string;
  width: number;
  height: number;
  /** Shown: not display:none/visibility:hidden/zero opacity. */
  visible: boolean;
  /** For img: the picture decoded (a broken image has naturalWidth 0). */
  decoded: boolean;
}

export interface NotebookState {
  cells: CellSummary[];
  visuals: Visual[];
  /** The text of all outputs, in cell order. */
  outputText: string;
  /** The kernel's execution state ('idle', 'busy', 'starting', …) or 'none'. */
  kernelStatus: string;
  kernelName: string;
}

/** Describes a cell in a message: `cell 5 ("await trainSteps(...")`. */
export function describeCell(cell: Pick<CellSummary, 'number' | 'firstLine'>): string {
  const line = cell.firstLine.length > 60 ? `${cell.firstLine.slice(0, 57)}...` : cell.firstLine;
  return `cell ${cell.number} (${JSON.stringify(line)})`;
}

// The parts of JupyterLab's objects that the browser-side callbacks below read
// (the app comes from --LabApp.expose_app_in_browser; nothing here is imported).
interface LabSignal<T> {
  connect(slot: (sender: unknown, args: T) => void): void;
}

interface LabKernelMessage {
  header: { msg_type: string; msg_id: string };
  parent_header: { msg_id: string };
  content: { code?: string; status?: string };
}

interface LabKernel {
  status: string;
  anyMessage: LabSignal<{ msg: LabKernelMessage; direction: 'send' | 'recv' }>;
}

interface LabSessionContext {
  session?: { kernel?: LabKernel | null } | null;
  kernelDisplayName: string;
  kernelChanged: LabSignal<{ newValue: LabKernel | null }>;
}

/** A cell output as nbformat JSON. */
interface LabOutputJson {
  output_type: string;
  name?: string;
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  text?: string | string[];
}

interface LabCellWidget {
  model: {
    toJSON(): { cell_type: string; source?: string | string[]; outputs?: LabOutputJson[]; metadata?: { tags?: string[] } };
  };
  node: HTMLElement;
}

interface LabNotebookPanel {
  content?: {
    widgets?: readonly LabCellWidget[];
    model?: { sharedModel: { insertCell(index: number, cell: { cell_type: 'code'; source: string; metadata: object }): void } };
  };
  sessionContext: LabSessionContext;
}

/** What the page's window carries: the exposed app, and the replies recorded by recordExecuteReplies. */
interface LabWindow {
  jupyterapp?: { shell: { currentWidget: LabNotebookPanel | null } };
  __e2eReplies?: { code?: string; status?: string }[];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Reads the open notebook: cells from the model, visuals and text from the DOM. */
export function readNotebook(page: Page): Promise<NotebookState> {
  return page.evaluate(() => {
    const app = (window as unknown as LabWindow).jupyterapp;
    if (!app) throw new Error('window.jupyterapp is missing: start JupyterLab with --LabApp.expose_app_in_browser=True');
    const panel = app.shell.currentWidget;
    if (!panel || !panel.content || !panel.content.widgets) throw new Error('the current tab is not a notebook');
    const cellWidgets = panel.content.widgets;
    const replies = (window as unknown as LabWindow).__e2eReplies ?? [];
    const cells = cellWidgets.map((widget, i) => {
      const json = widget.model.toJSON();
      const source = Array.isArray(json.source) ? json.source.join('') : String(json.source ?? '');
      const prompt = widget.node.querySelector('.jp-InputPrompt')?.textContent?.trim() ?? '';
      const outputs = (json.outputs ?? []).map((o) => {
        const text = Array.isArray(o.text) ? o.text.join('') : o.text;
        return {
          type: o.output_type,
          name: o.name,
          mimeTypes: o.data ? Object.keys(o.data) : undefined,
          ename: o.ename,
          evalue: o.evalue,
          text: typeof text === 'string' ? text.slice(0, 4000) : undefined,
        };
      });
      return {
        number: i + 1,
        type: json.cell_type,
        // The first line that says something: not a lone brace opening a block.
        firstLine: source.split('\n').map((l: string) => l.trim()).find((l: string) => /[A-Za-z]{2}/.test(l)) ?? '',
        source,
        prompt,
        outputs,
        replyStatus: json.cell_type === 'code'
          ? replies.filter((r) => r.code === source).map((r) => r.status).pop()
          : undefined,
      };
    });
    const visuals: Visual[] = [];
    const texts: string[] = [];
    cellWidgets.forEach((widget, i) => {
      for (const output of Array.from(widget.node.querySelectorAll<HTMLElement>('.jp-OutputArea-output'))) {
        texts.push(output.innerText || output.textContent || '');
        for (const el of Array.from(output.querySelectorAll('img, svg'))) {
          // Only outermost pictures: the pieces of a chart are not charts.
          if (el.parentElement?.closest('svg')) continue;
          const rect = el.getBoundingClientRect();
          const img = el instanceof HTMLImageElement ? el : null;
          visuals.push({
            cell: i + 1,
            tag: img ? 'img' : 'svg',
            mimeType: output.dataset.mimeType ?? '',
            width: Math.round(rect.width),
            height: Math.round(rect.height),
            visible: el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true }),
            decoded: img ? img.complete && img.naturalWidth > 0 : true,
          });
        }
      }
    });
    const kernel = panel.sessionContext?.session?.kernel;
    return {
      cells,
      visuals,
      outputText: texts.join('\n'),
      kernelStatus: kernel ? String(kernel.status) : 'none',
      kernelName: kernel ? String(panel.sessionContext.kernelDisplayName) : 'none',
    };
  });
}

/**
 * Opens a notebook by URL and waits (bounded) until its cells are shown and its
 * kernel is idle, picking the TypeScript kernel if JupyterLab asks for one.
 */
export async function openNotebook(page: Page, url: string, timeoutMs: number): Promise<void> {
  await page.goto(url, { timeout: timeoutMs });
  await page.waitForSelector('.jp-NotebookPanel .jp-Notebook .jp-Cell', { timeout: timeoutMs });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dialog = page.locator('.jp-Dialog');
    if (await dialog.count()) {
      const select = dialog.locator('select');
      if (await select.count()) {
        const option = select.locator('option', { hasText: 'TypeScript' }).first();
        await select.selectOption({ label: (await option.textContent())?.trim() ?? 'TypeScript' });
      }
      await dialog.locator('.jp-Dialog-button.jp-mod-accept').click();
    }
    const state = await readNotebook(page);
    if (state.kernelStatus === 'idle') {
      await recordExecuteReplies(page);
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`the kernel did not become idle within ${timeoutMs / 1000} s of opening the notebook ` +
        `(kernel ${state.kernelName}, status ${state.kernelStatus})`);
    }
    await sleep(250);
  }
}

/**
 * From now on, keeps the status of each execute_reply of the notebook's kernel
 * (also after a kernel restart), keyed by the code it ran.
 */
async function recordExecuteReplies(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as LabWindow;
    if (w.__e2eReplies) return;
    const replies: NonNullable<LabWindow['__e2eReplies']> = [];
    w.__e2eReplies = replies;
    const requests = new Map<string, string | undefined>();
    const listen = (kernel: LabKernel | null | undefined): void => {
      kernel?.anyMessage.connect((_, { msg, direction }) => {
        const type = msg.header.msg_type;
        if (direction === 'send' && type === 'execute_request') requests.set(msg.header.msg_id, msg.content.code);
        if (direction === 'recv' && type === 'execute_reply' && requests.has(msg.parent_header.msg_id)) {
          replies.push({ code: requests.get(msg.parent_header.msg_id), status: msg.content.status });
        }
      });
    };
    const panel = w.jupyterapp?.shell.currentWidget;
    if (!panel) throw new Error('the current tab is not a notebook');
    const context = panel.sessionContext;
    listen(context.session?.kernel);
    context.kernelChanged.connect((_, change) => listen(change.newValue));
  });
}

/**
 * Inserts a code cell with `source`, tagged `injected-parameters`, right after
 * the cell tagged `parameters`, as scripts/run-notebooks.py -p does. Only the
 * page changes: autosave is off and nothing is saved.
 * @returns the number of the inserted cell, counting from 1.
 * @throws Error when the notebook has no cell tagged `parameters`.
 */
export function injectParameters(page: Page, source: string): Promise<number> {
  return page.evaluate((code) => {
    const panel = (window as unknown as LabWindow).jupyterapp?.shell.currentWidget;
    const widgets = panel?.content?.widgets;
    const model = panel?.content?.model;
    if (!widgets || !model) throw new Error('the current tab is not a notebook');
    const index = widgets.findIndex((w) => w.model.toJSON().metadata?.tags?.includes('parameters'));
    if (index < 0) throw new Error('the notebook has no cell tagged parameters');
    model.sharedModel.insertCell(index + 1, { cell_type: 'code', source: code, metadata: { tags: ['injected-parameters'] } });
    return index + 2;
  }, source);
}

/** Clicks a menu bar menu, then an item of it, as a person would. */
export async function clickMenu(page: Page, menu: string, item: string): Promise<void> {
  await page.locator('.lm-MenuBar-itemLabel', { hasText: new RegExp(`^${menu}$`) }).click();
  await page.locator('.lm-Menu-content .lm-Menu-itemLabel', { hasText: new RegExp(`^${item}$`) }).click();
}

export interface RunOptions {
  /** Longest time one cell may run, in ms. */
  cellTimeoutMs: number;
  /** Longest time the whole notebook may run, in ms. */
  notebookTimeoutMs: number;
  /** Called when the running cell changes, for a progress line. */
  onCellStart?: (cell: CellSummary) => void;
}

export interface RunResult {
  state: NotebookState;
  /** Seconds from "Run All Cells" until the kernel went idle. */
  seconds: number;
  /** Set when a cell (or the notebook) ran past its time limit. */
  timeout?: string;
}

/**
 * Clears the outputs, runs all cells from the Run menu and waits until no cell
 * is queued or running and the kernel is idle. A cell running past
 * `cellTimeoutMs` ends the wait with `timeout` naming that cell.
 */
export async function runAllCells(page: Page, options: RunOptions): Promise<RunResult> {
  await clickMenu(page, 'Edit', 'Clear Outputs of All Cells');
  await clickMenu(page, 'Run', 'Run All Cells');
  const started = Date.now();
  let current = -1;
  let currentSince = started;
  let idleChecks = 0;
  for (;;) {
    await sleep(500);
    const state = await readNotebook(page);
    const now = Date.now();
    const seconds = (now - started) / 1000;
    const running = state.cells.find((c) => c.type === 'code' && c.prompt.includes('*'));
    if (running) {
      idleChecks = 0;
      if (running.number !== current) {
        current = running.number;
        currentSince = now;
        options.onCellStart?.(running);
      } else if (now - currentSince > options.cellTimeoutMs) {
        return { state, seconds, timeout: `${describeCell(running)} was still running after ${options.cellTimeoutMs / 1000} s` };
      }
    } else if (state.kernelStatus === 'idle') {
      // Two idle readings in a row: the queue has drained, not just paused between cells.
      if (++idleChecks >= 2) return { state, seconds };
    }
    if (now - started > options.notebookTimeoutMs) {
      const where = running ? describeCell(running) : `no cell running, kernel ${state.kernelStatus}`;
      return { state, seconds, timeout: `the notebook was still running after ${options.notebookTimeoutMs / 1000} s (${where})` };
    }
  }
}

/** Waits (bounded) for every image of the outputs to finish decoding. */
export async function waitForImages(page: Page, timeoutMs = 10_000): Promise<void> {
  await page.waitForFunction(
    () => Array.from(document.querySelectorAll<HTMLImageElement>('.jp-OutputArea-output img')).every((i) => i.complete),
    undefined,
    { timeout: timeoutMs },
  ).catch(() => undefined);
}

/** Hides the left side panel (file browser) so the notebook gets the page's width. */
export async function collapseLeftPanel(page: Page): Promise<void> {
  const current = page.locator('.jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current');
  if (await current.count()) await current.first().click();
}

/**
 * Screenshots the notebook with all of it in view: the viewport is made as
 * tall as the notebook's content (the notebook scrolls inside its own panel,
 * so a plain full-page shot would only show what fits in the window).
 */
export async function screenshotWholeNotebook(page: Page, file: string, width: number): Promise<void> {
  const original = page.viewportSize() ?? { width, height: 900 };
  const needed = await page.evaluate(async () => {
    const scroller = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer');
    const cells = scroller?.querySelectorAll('.jp-Cell');
    if (!scroller || !cells?.length) return 0;
    // Running all cells leaves the notebook scrolled to its end: start from the top.
    scroller.scrollTop = 0;
    await new Promise((resolve) => requestAnimationFrame(resolve));
    // Down to the last cell (not the blank space JupyterLab leaves for scrolling past the end),
    // plus what lies below the notebook (the status bar).
    const lastBottom = cells[cells.length - 1].getBoundingClientRect().bottom + scroller.scrollTop;
    return lastBottom + 24 + (window.innerHeight - scroller.getBoundingClientRect().bottom);
  });
  // Chromium cannot capture much more than 16k pixels in one image.
  const height = Math.min(Math.max(original.height, Math.ceil(needed)), 16_000);
  await page.setViewportSize({ width, height });
  await page.evaluate(() => {
    const scroller = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer');
    if (scroller) scroller.scrollTop = 0;
  });
  await sleep(500);
  await waitForImages(page);
  await page.screenshot({ path: file });
  await page.setViewportSize(original);
}

/**
 * Screenshots the window showing the cell at `cellIndex` (from 0) from its
 * top, with a little of what comes before it (its heading, usually).
 */
export async function screenshotCell(page: Page, cellIndex: number, file: string): Promise<boolean> {
  const found = await page.evaluate((index) => {
    const scroller = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer');
    const cell = scroller?.querySelector(`.jp-Cell[data-windowed-list-index="${index}"]`);
    if (!scroller || !cell) return false;
    const offset = cell.getBoundingClientRect().top - scroller.getBoundingClientRect().top;
    scroller.scrollTop += offset - 120;
    return true;
  }, cellIndex);
  if (!found) return false;
  await sleep(500);
  await waitForImages(page);
  await page.screenshot({ path: file });
  return true;
}
