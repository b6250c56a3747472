/**
 * Runs and comparisons as aligned markdown tables, and durations as text:
 * what `npm run runs` prints and notebook 5 displays. The registry
 * (lib/runs/registry.ts) finds, summarises and groups the runs; this draws
 * them.
 */
import { formatSetting } from '../config';
import { formatDuration } from './text';
import {
  differingSettings, digitProduct, MILESTONES, runSettings, type Comparison, type RunGroup, type RunSummary,
} from '../runs/registry';

type Align = 'left' | 'right';

/** A markdown table whose columns line up in plain text too. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[],
    align: readonly Align[] = []): string {
  const escape = (cell: string) => cell.replace(/\|/g, '\\|');
  const cells = [header, ...rows].map((row) => row.map(escape));
  const widths = header.map((_, c) => Math.max(3, ...cells.map((row) => (row[c] ?? '').length)));
  const pad = (cell: string, c: number) =>
    (align[c] === 'right' ? cell.padStart(widths[c]) : cell.padEnd(widths[c]));
  const line = (row: readonly string[]) => `| ${widths.map((_, c) => pad(row[c] ?? '', c)).join(' | ')} |`;
  const rule = `| ${widths.map((w, c) => (align[c] === 'right' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(cells[0]), rule, ...cells.slice(1).map(line)].join('\n');
}

const NONE = '–';
const percent = (x: number | null | undefined, digits = 2) => (x == null ? NONE : (100 * x).toFixed(digits));

/** Seeds as a short list: `1-3,7`. */
function seedList(seeds: readonly number[]): string {
  const sorted = [...seeds].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j - i >= 2 ? `${sorted[i]}-${sorted[j]}` : sorted.slice(i, j + 1).join(','));
    i = j + 1;
  }
  return parts.join(',');
}

const count = (n: number) => Math.round(n).toLocaleString('en');

/**
 * When a group first reached an accuracy: the mean step and seconds of the
 * runs that did, `1,200 · 41.5 s`; prefixed `2/3:` when not all of the
 * group's measured runs did; the step alone for runs that did not record the
 * time of their evaluations; – when none reached it.
 */
function milestoneCell(m: RunGroup['milestones'][number], measured: number): string {
  if (m.reached === 0 || m.meanStep === null) return NONE;
  const when = m.meanSeconds === null ? count(m.meanStep) : `${count(m.meanStep)} · ${formatDuration(m.meanSeconds)}`;
  return m.reached < measured ? `${m.reached}/${measured}: ${when}` : when;
}

/**
 * The groups of a comparison (`compareRuns`) as a markdown table: a column
 * per setting that differs between them (or their label), n, seeds, final
 * accuracy with its spread and interval, best accuracy, time to each of
 * MILESTONES, steps, time and peak memory. The t interval of a few seeds can
 * reach past 100% (or below 0%), where no accuracy lies: it is shown cut to
 * 0–100%. When runs measured the digit probe, two columns show it: the mean
 * per-digit accuracy p, and the product of the steps' p (p² for pairs).
 */
export function comparisonTable(comparison: Pick<Comparison, 'groups' | 'settings'>): string {
  const { groups, settings } = comparison;
  const probed = groups.some((g) => g.digitAccuracy !== null);
  const rss = groups.some((g) => g.meanPeakRssMiB !== null);
  const header = [...(settings.length ? settings : ['group']), 'n', 'seeds', 'final acc. %', '± std',
    '95% CI of mean', 'best acc. %', ...(probed ? ['digit p %', '∏ p %'] : []),
    ...MILESTONES.map((a) => `to ${percent(a, 0)}%`), 'steps', 'time', ...(rss ? ['peak RSS'] : [])];
  const rows = groups.map((g) => {
    const f = g.finalAccuracy;
    return [
      ...(settings.length ? settings.map((name) => formatSetting(g.differing[name])) : [g.label]),
      String(f?.n ?? 0),
      seedList(g.seeds),
      percent(f?.mean),
      f?.std == null ? NONE : percent(f.std),
      f?.ci95 ? `${percent(Math.max(0, f.ci95[0]))} – ${percent(Math.min(1, f.ci95[1]))}` : NONE,
      percent(g.bestAccuracy?.mean),
      ...(probed ? [percent(g.digitAccuracy?.mean), percent(g.digitProduct?.mean)] : []),
      ...g.milestones.map((m) => milestoneCell(m, g.finalAccuracy?.n ?? 0)),
      count(g.meanSteps),
      formatDuration(g.meanSeconds),
      ...(rss ? [g.meanPeakRssMiB === null ? NONE : `${count(g.meanPeakRssMiB)} MiB`] : []),
    ];
  });
  const firstNumber = Math.max(1, settings.length);
  const align: Align[] = header.map((_, c) => (c < firstNumber || c === firstNumber + 1 ? 'left' : 'right'));
  return markdownTable(header, rows, align);
}

export interface RunsTableOptions {
  /** The settings shown as columns (default: those that differ between the runs). */
  settings?: readonly string[];
}

/**
 * The runs as an aligned markdown table: id, the settings that differ, final
 * and best evaluation accuracy (%), steps, training time and how it ended.
 */
export function runsTable(runs: readonly RunSummary[], options: RunsTableOptions = {}): string {
  const settings = options.settings ?? differingSettings(runs);
  const probed = runs.some((run) => run.digitAccuracy !== null);
  const header = ['run', ...settings, 'final acc. %', 'best acc. %', 'best at',
    ...(probed ? ['digit p %', '∏ p %'] : []), 'steps', 'time', 'end'];
  const rows = runs.map((run) => {
    const values = runSettings(run);
    const steps = run.steps === run.trainConfig.numSteps ? count(run.steps)
      : `${count(run.steps)}/${count(run.trainConfig.numSteps)}`;
    return [
      run.id,
      ...settings.map((name) => formatSetting(values[name])),
      percent(run.finalAccuracy),
      percent(run.bestAccuracy),
      run.bestStep === null ? NONE : count(run.bestStep),
      ...(probed ? [
        run.digitAccuracy === null ? NONE : run.digitAccuracy.map((p) => percent(p)).join(' / '),
        run.digitAccuracy === null ? NONE : percent(digitProduct(run.digitAccuracy)),
      ] : []),
      steps,
      formatDuration(run.elapsedSeconds),
      run.endReason,
    ];
  });
  const align: Align[] = header.map((_, c) => (c <= settings.length || c === header.length - 1 ? 'left' : 'right'));
  return markdownTable(header, rows, align);
}
