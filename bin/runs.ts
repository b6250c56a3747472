#!/usr/bin/env node
/**
 * Lists the saved runs under a folder (default runs/) and compares them.
 *
 *   npm run runs                          # runs/: one row per run, then the skipped folders
 *   npm run runs -- runs/sweep --compare  # groups over seeds: mean ± std, 95% interval
 *   npm run runs -- runs/sweep --compare --chart compare.svg
 *   npm run runs -- --help
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  compareRuns, differingSettings, listRuns, loadRuns, PRESET_GROUP, settingNames,
  type RunList, type RunSummary, type SkippedFolder,
} from '../lib/runs/registry';
import { formatSetting } from '../lib/config';
import { recordDigitProbe, runFile } from '../lib/runs/record';
import { comparisonChartSvg } from '../lib/view/compare';
import { comparisonTable, runsTable } from '../lib/view/tables';
import { percent, runMain } from './cli';

/** A comma-separated list of setting names (and of `extra` names), checked against the table. */
function settingList(extra: readonly string[] = []) {
  return (value: string): string[] => {
    const names = value.split(',').map((s) => s.trim()).filter(Boolean);
    const known = [...settingNames(), ...extra];
    for (const name of names) {
      if (!known.includes(name)) throw new InvalidArgumentError(`Unknown setting '${name}'; known: ${known.join(', ')}.`);
    }
    return names;
  };
}

function depth(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('Not a whole number.');
  return Number(value);
}

const SORTS = ['id', 'accuracy', 'best', 'time', 'saved'] as const;
type SortKey = typeof SORTS[number];

interface CliOptions {
  compare?: boolean; chart?: string; groupBy?: string[]; ignore?: string[]; sort: SortKey; json?: boolean;
  band: 'minmax' | 'std' | 'none'; yScale: 'error-log' | 'accuracy'; maxDepth: number; digitProbe?: boolean;
}

function buildProgram(): Command {
  return new Command()
    .name('runs')
    .description('List the saved training runs under a folder, and compare groups of runs over seeds.')
    .argument('[dirs...]', 'folders searched for runs, recursively (default: runs)')
    .option('--compare', 'group the runs by their settings except the seed: mean ± std and 95% interval over seeds')
    .option('--chart <file>', 'write the groups\' evaluation curves as an SVG chart (implies --compare)')
    .option('--group-by <settings>', 'compare: group by these settings only (comma-separated, e.g. cell,sharedCnn; ' +
      'preset: by the preset whose settings the runs have)',
      settingList([PRESET_GROUP]))
    .option('--ignore <settings>', 'compare: settings besides the seed not to group by (e.g. engine)', settingList())
    .addOption(new Option('--sort <key>', 'order of the runs: id, accuracy (final, best first), best, time, saved')
      .choices([...SORTS]).default('id'))
    .addOption(new Option('--band <kind>', 'chart: band around each group\'s mean').choices(['minmax', 'std', 'none'])
      .default('minmax'))
    .addOption(new Option('--y-scale <kind>', 'chart: error rate on a log axis, or accuracy zoomed in')
      .choices(['error-log', 'accuracy']).default('error-log'))
    .option('--max-depth <n>', 'levels below the folder searched', depth, 8)
    .option('--json', 'print the runs (or the comparison) as JSON')
    .option('--digit-probe', 'first measure the per-digit accuracy of the runs that have not recorded it ' +
      '(a linear probe on each step\'s CNN features, as npm run train does) and add it to their run.json')
    .allowExcessArguments(false)
    .showHelpAfterError('(run with --help for the list of options)');
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function sortRuns(runs: RunSummary[], key: SortKey): RunSummary[] {
  const desc = (f: (r: RunSummary) => number | null) => (a: RunSummary, b: RunSummary) => (f(b) ?? -1) - (f(a) ?? -1);
  if (key === 'accuracy') return [...runs].sort(desc((r) => r.finalAccuracy));
  if (key === 'best') return [...runs].sort(desc((r) => r.bestAccuracy));
  if (key === 'time') return [...runs].sort(desc((r) => r.elapsedSeconds));
  if (key === 'saved') return [...runs].sort(desc((r) => Date.parse(r.savedAt) || 0));
  return runs;
}

function printSkipped(skipped: SkippedFolder[]): void {
  if (skipped.length === 0) return;
  console.log(`\nSkipped ${plural(skipped.length, 'folder')}:`);
  const width = Math.max(...skipped.map((s) => s.id.length));
  for (const s of skipped) console.log(`  ${s.id.padEnd(width)}  ${s.reason}`);
}

/**
 * Measures and records the digit probe of each run without one; returns how
 * many were added. TensorFlow is loaded only here: listing runs needs none.
 */
async function addDigitProbes(runs: RunSummary[]): Promise<number> {
  const missing = runs.filter((run) => run.digitAccuracy === null);
  if (missing.length === 0) return 0;
  const [{ loadRun }, { measureDigitProbe }, { loadMnist }, { disposeCrnn }] = await Promise.all([
    import('../lib/runs/persist'), import('../lib/evaluate/probe'), import('../lib/data/data'), import('../lib/model/build'),
  ]);
  let added = 0;
  for (const run of missing) {
    if (!run.hasModel) {
      console.log(`digit probe: ${run.id} skipped, it has no saved model`);
      continue;
    }
    try {
      const loaded = await loadRun(run.dir);
      try {
        if (loaded.dataLocation === undefined) {
          console.log(`digit probe: ${run.id} skipped, its run.json does not say where its digits came from (dataLocation)`);
          continue;
        }
        const probe = measureDigitProbe(loaded.model, loadMnist({ source: loaded.dataLocation }));
        await recordDigitProbe(run.dir, probe).catch((err: Error) => {
          throw new Error(`cannot write it into ${runFile(run.dir)}, which is unchanged: ${err.message}`);
        });
        added++;
        console.log(`digit probe: ${run.id}: p = ${probe.accuracy.map(percent).join(', ')}`);
      } finally {
        disposeCrnn(loaded.model);
      }
    } catch (err) {
      throw new Error(`${run.id}: ${(err as Error).message}`);
    }
  }
  return added;
}

/** The runs under each folder, one list. */
async function listFolders(roots: readonly string[], maxDepth: number): Promise<RunList> {
  const lists = await Promise.all(roots.map((root) => listRuns(root, { maxDepth })));
  return {
    runs: lists.flatMap((l) => l.runs), skipped: lists.flatMap((l) => l.skipped), recovered: lists.flatMap((l) => l.recovered),
  };
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.parse(argv);
  const roots = program.args.length > 0 ? program.args : ['runs'];
  const root = roots.join(', ');
  const opts = program.opts<CliOptions>();
  // Not program.error: these are not usage errors, and the help hint would be noise.
  const fail = (message: string): never => {
    console.error(`error: ${message}`);
    process.exit(1);
  };
  const compare = opts.compare === true || opts.chart !== undefined;

  let listed;
  try {
    listed = await listFolders(roots, opts.maxDepth);
  } catch (err) {
    const hint = program.args.length === 0 && /does not exist/.test((err as Error).message)
      ? ' (runs are saved by npm run train; name another folder with npm run runs -- DIR)' : '';
    return fail(`${(err as Error).message}${hint}`);
  }
  const { skipped, recovered } = listed;
  if (!opts.json) {
    for (const r of recovered) {
      console.log(`Put back ${r.id} from ${path.basename(r.from)}, where an interrupted save had moved it.`);
    }
  }
  if (opts.digitProbe) {
    let added;
    try {
      added = await addDigitProbes(listed.runs);
    } catch (err) {
      // A run that cannot be loaded or measured, or a full disk: a message, not a stack trace.
      return fail(`--digit-probe: ${(err as Error).message}`);
    }
    if (added > 0) listed = await listFolders(roots, opts.maxDepth);
  }
  const runs = sortRuns(listed.runs, opts.sort);

  if (!compare) {
    if (opts.json) {
      console.log(JSON.stringify({ root, runs, skipped, recovered }, null, 1));
      return;
    }
    if (runs.length === 0) {
      console.log(`No runs under ${root}.`);
    } else {
      const differ = differingSettings(runs);
      const same = runs.length > 1 && differ.length > 0 ? `; settings that differ: ${differ.join(', ')}` : '';
      console.log(`${plural(runs.length, 'run')} under ${root}${same}\n`);
      console.log(runsTable(runs));
      if (runs.length === 1 || differ.length === 0) {
        const r = runs[0];
        console.log(`\nAll with task ${r.task}, cell ${r.crnnConfig.cell}, sharedCnn ${r.crnnConfig.sharedCnn}, ` +
          `seqLength ${r.seqLength}, filters ${formatSetting(r.crnnConfig.filters)}, seed ${r.trainConfig.seed}.`);
      }
    }
    printSkipped(skipped);
    return;
  }

  if (runs.length === 0) {
    printSkipped(skipped);
    return fail(`nothing to compare: no runs under ${root}`);
  }
  let comparison;
  try {
    // Histories for the chart: read again, only when it is drawn.
    const details = opts.chart ? await loadRuns(runs.map((r) => r.dir)) : runs;
    comparison = compareRuns(details, { groupBy: opts.groupBy, ignore: opts.ignore });
  } catch (err) {
    return fail((err as Error).message);
  }
  if (opts.json) {
    const groups = comparison.groups.map(({ runs: members, ...group }) => ({ ...group, runs: members.map((r) => r.id) }));
    console.log(JSON.stringify({
      root, settings: comparison.settings, groups, warnings: comparison.warnings, skipped, recovered,
    }, null, 1));
  } else {
    const by = opts.groupBy ? `grouped by ${opts.groupBy.join(', ')}`
      : `grouped by every setting but seed${opts.ignore?.length ? `, ${opts.ignore.join(', ')}` : ''}`;
    console.log(`${plural(runs.length, 'run')} in ${plural(comparison.groups.length, 'group')} under ${root}, ${by}\n`);
    console.log(comparisonTable(comparison));
    console.log('\nfinal acc.: evaluation accuracy at the last step, mean over the seeds; ± std: sample standard ' +
      'deviation; 95% CI: Student t interval of the mean (none for n = 1); to 98%, to 99%: the first evaluation ' +
      'at or above it, mean step · seconds of training over the runs that reached it (k/n: only k of n did; ' +
      'no seconds for runs saved before they were recorded).');
    for (const warning of comparison.warnings) console.log(`warning: ${warning}`);
  }
  if (opts.chart) {
    try {
      const svg = await comparisonChartSvg(comparison, { band: opts.band, yScale: opts.yScale });
      await fs.writeFile(opts.chart, svg);
    } catch (err) {
      return fail(`--chart ${opts.chart}: ${(err as Error).message}`);
    }
    if (!opts.json) console.log(`chart written to ${opts.chart}`);
  }
  if (!opts.json) printSkipped(skipped);
}

runMain(main);
