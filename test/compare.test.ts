/**
 * lib/view/compare.ts: a comparison of the runs of test/helpers/run-folders.ts
 * drawn as a chart.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { compareRuns, listRuns, loadRuns } from '../lib/runs/registry';
import { comparisonChartSvg } from '../lib/view/compare';
import { makeRunsFolder } from './helpers/run-folders';
import { tempFolders } from './helpers/temp';

const tempDir = tempFolders('compare');

let root: string;
before(() => { root = makeRunsFolder(tempDir()); });

test('the comparison chart overlays each group\'s mean curve with its band, on a log error axis', async () => {
  const comparison = compareRuns(await loadRuns(root));
  const svg = await comparisonChartSvg(comparison);
  assert.match(svg, /^<svg/);
  for (const label of ['cell=gru, sharedCnn=false (n=2)', 'cell=simple, sharedCnn=false (n=3)',
    'cell=lstm, sharedCnn=true (n=1)']) {
    assert.ok(svg.includes(label), `the legend names ${label}`);
  }
  assert.match(svg, /error rate \(1 − accuracy\), log scale/);
  assert.match(svg, /article: 98%/);
  const zoomed = await comparisonChartSvg(comparison, { yScale: 'accuracy', band: 'std' });
  assert.match(zoomed, /band: ± 1 std over seeds/);
  const { runs } = await listRuns(root);
  await assert.rejects(comparisonChartSvg(compareRuns(runs)), /has no history: compare runs from loadRuns/);
});
