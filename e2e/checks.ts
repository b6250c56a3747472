/**
 * What a notebook must show, and the checks that compare it with what
 * JupyterLab shows.
 */
import { describeCell, type CellSummary, type NotebookState, type Visual } from './notebook-page';

/** An image or chart a cell must show. */
export interface VisualExpectation {
  /** Names it in the check line, e.g. 'training curve chart'. */
  what: string;
  /** Picks the cell(s) by their source, e.g. /trainingCurvesSvg\(/. */
  source: RegExp;
  /** How many pictures those cells must show together; default 1. */
  min?: number;
}

export interface TextExpectation {
  what: string;
  pattern: RegExp;
  /** Only checked when this notebook was run earlier in the same session (its output feeds this one). */
  afterRunOf?: string;
}

export interface NotebookExpectation {
  /** The notebook, relative to the folder JupyterLab serves. */
  file: string;
  visuals: VisualExpectation[];
  texts: TextExpectation[];
  /** Texts only a run with the test's small configuration shows. */
  runTexts?: TextExpectation[];
  /** Also save a window-sized screenshot centred on this visual, e.g. for the README. */
  docsScreenshot?: { path: string; around: string };
}

export interface CheckResult {
  name: string;
  status: 'pass' | 'fail' | 'skip';
  detail: string;
}

/** Smallest side, in CSS pixels, of a picture that counts as shown. */
export const MIN_VISUAL_SIDE = 50;

export function isRealPicture(v: Visual): boolean {
  return v.visible && v.decoded && v.width > MIN_VISUAL_SIDE && v.height > MIN_VISUAL_SIDE;
}

function check(name: string, ok: boolean, detail: string): CheckResult {
  return { name, status: ok ? 'pass' : 'fail', detail };
}

function codeCells(state: NotebookState): CellSummary[] {
  return state.cells.filter((c) => c.type === 'code');
}

/**
 * Whether stderr text shows a failure: a stack frame ("    at f (file.js:3:7)")
 * or a TypeScript diagnostic as tslab prints it ("3:5 - Cannot find name 'x'.").
 */
export function looksLikeError(text: string): boolean {
  return /^\s+at .+:\d+:\d+\)?\s*$/m.test(text) || /^(\S+ )?\d+:\d+ - /m.test(text);
}

/** The line of stderr text that names the failure, e.g. 'Error: boom'. */
function errorLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines.find((l) => /^\w*(Error|Exception)\b/.test(l) || /^(\S+ )?\d+:\d+ - /.test(l)) ?? lines[0] ?? '(no message)';
}

/**
 * The failures, named by cell: 'cell 4 ("…"): TypeError: x is undefined'.
 * A cell failed when the kernel replied "error" to running it, when it has
 * an error output, or when its stderr shows a stack trace or a compile error
 * (the only trace a failure leaves in a saved tslab notebook).
 */
export function errorOutputs(state: NotebookState): string[] {
  return state.cells.flatMap((cell) => {
    const stderr = cell.outputs.filter((o) => o.type === 'stream' && o.name === 'stderr').map((o) => o.text ?? '').join('');
    const errors = cell.outputs.filter((o) => o.type === 'error');
    if (errors.length) return errors.map((o) => `${describeCell(cell)}: ${o.ename ?? 'Error'}: ${(o.evalue ?? '').split('\n')[0]}`);
    if (cell.replyStatus === 'error') return [`${describeCell(cell)} failed: ${errorLine(stderr)}`];
    if (looksLikeError(stderr)) return [`${describeCell(cell)} shows an error on stderr: ${errorLine(stderr)}`];
    return [];
  });
}

/** The stderr lines cells printed: worth showing, not a failure by themselves. */
export function stderrNotes(state: NotebookState): string[] {
  return state.cells.flatMap((cell) => cell.outputs
    .filter((o) => o.type === 'stream' && o.name === 'stderr' && !looksLikeError(o.text ?? ''))
    .map((o) => `${describeCell(cell)} wrote to stderr: ${(o.text ?? '').trim().split('\n')[0]}`));
}

/**
 * The checks shared by a run and a saved notebook: no errors, the pictures, the
 * texts. `ran` lists the notebooks run earlier in the session.
 */
export function contentChecks(
  label: string, state: NotebookState, expected: NotebookExpectation, ran: readonly string[] = [],
): CheckResult[] {
  const results: CheckResult[] = [];
  const errors = errorOutputs(state);
  results.push(check(`${label}: no cell shows an error`, errors.length === 0,
    errors.length ? errors.join('; ') : `${codeCells(state).length} code cells, no error output`));

  for (const visual of expected.visuals) {
    const min = visual.min ?? 1;
    const cells = state.cells.filter((c) => c.type === 'code' && visual.source.test(c.source));
    const name = `${label}: shows the ${visual.what}`;
    if (cells.length === 0) {
      results.push(check(name, false, `no code cell matches ${visual.source}`));
      continue;
    }
    const numbers = new Set(cells.map((c) => c.number));
    const pictures = state.visuals.filter((v) => numbers.has(v.cell));
    const real = pictures.filter(isRealPicture);
    const sizes = pictures.map((v) => `${v.tag} ${v.width}×${v.height}${v.visible ? '' : ' hidden'}${v.decoded ? '' : ' undecoded'}`);
    const where = cells.map((c) => describeCell(c)).join(', ');
    const outputs = cells.flatMap((c) => c.outputs.map((o) => o.mimeTypes?.join('+') ?? `${o.type}${o.name ? `/${o.name}` : ''}`));
    results.push(check(name, real.length >= min,
      `${real.length} of ${min} needed pictures over ${MIN_VISUAL_SIDE} px in ${where}` +
      (sizes.length ? ` [${sizes.join(', ')}]` : ` (outputs: ${outputs.join(', ') || 'none'})`)));
  }

  for (const text of expected.texts) {
    if (text.afterRunOf && !ran.includes(text.afterRunOf)) {
      results.push({ name: `${label}: shows the ${text.what}`, status: 'skip', detail: `${text.afterRunOf} was not run before it` });
      continue;
    }
    const match = text.pattern.exec(state.outputText);
    results.push(check(`${label}: shows the ${text.what}`, match !== null,
      match ? JSON.stringify(match[0].trim()) : `no output text matches ${text.pattern}`));
  }
  return results;
}

/** After "Run All Cells": every code cell ran (none left queued, none skipped after an error). */
export function ranEveryCell(label: string, state: NotebookState): CheckResult {
  const notRun = codeCells(state).filter((c) => !/^\[\d+\]:$/.test(c.prompt));
  return check(`${label}: every code cell ran`, notRun.length === 0,
    notRun.length
      ? `${notRun.length} not run, first ${describeCell(notRun[0])} with prompt ${notRun[0].prompt || '(none)'}`
      : `${codeCells(state).length} code cells ran`);
}
