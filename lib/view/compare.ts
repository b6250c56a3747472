/**
 * A comparison of runs (lib/runs/registry.ts) drawn as a chart: the registry
 * groups the runs and computes the statistics, the view draws them.
 */
import type { History } from '../types';
import type { Comparison, RunSummary } from '../runs/registry';
import { comparisonCurvesSvg, type ComparisonCurvesOptions } from './charts';

/**
 * The evaluation-accuracy curves of the groups of a comparison, overlaid, as
 * an SVG string: per group the mean over its seeds with a band (min–max by
 * default), legend entries naming the settings that differ and n. The
 * default y axis is the error rate on a log scale, where 98.2% and 98.5%
 * are apart (see `comparisonCurvesSpec`).
 * @throws Error when a run was listed without its history: use `loadRuns`.
 */
export async function comparisonChartSvg(comparison: Comparison<RunSummary & { history?: History }>,
    options: ComparisonCurvesOptions = {}): Promise<string> {
  const groups = comparison.groups.map((group) => ({
    label: `${group.label} (n=${group.runs.length})`,
    runs: group.runs.map((run) => {
      if (!run.history) {
        throw new Error(`run ${run.id} has no history: compare runs from loadRuns (listRuns leaves histories out)`);
      }
      return run.history.evals;
    }),
  }));
  return comparisonCurvesSvg(groups, options);
}
