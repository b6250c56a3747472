import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ARTICLE_ACCURACY, barChartSpec, barChartSvg, comparisonCurvesSpec, comparisonCurvesSvg, downsampleMean, heatmapSpec,
  heatmapSvg, scatterChartSpec, type ChartSpec, renderSvg, symlogLegendValues, trainingCurvesSpec, trainingCurvesSvg,
} from '../lib/view/charts';
import type { History } from '../lib/types';
import { fakeTrainingHistory } from './helpers/histories';

/** The SVG elements of one Vega mark group, e.g. the bars of a bar chart. */
function markElements(svg: string, markClass: string, element: string): string[] {
  const group = new RegExp(`<g class="${markClass} role-mark[^"]*"[^>]*>(.*?)</g>`, 's').exec(svg);
  assert.ok(group, `no ${markClass} mark group in the SVG`);
  return group[1].match(new RegExp(`<${element}[ >].*?(/>|</${element}>)`, 'gs')) ?? [];
}

// The tests walk the Vega-Lite JSON by path and the assertions check what they
// find; typed as vega-lite's spec unions, every step would need a cast.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type Spec = Record<string, any>;

test('downsampleMean averages consecutive buckets and keeps the last step of each', () => {
  const points = Array.from({ length: 10 }, (_, i) => ({ step: i + 1, value: i }));
  assert.deepEqual(downsampleMean(points, 5), [
    { step: 2, value: 0.5 }, { step: 4, value: 2.5 }, { step: 6, value: 4.5 },
    { step: 8, value: 6.5 }, { step: 10, value: 8.5 },
  ]);
  assert.deepEqual(downsampleMean(points.slice(0, 3), 5), points.slice(0, 3));
  assert.ok(downsampleMean(points, 3).length <= 3);
});

test('downsampleMean rejects a maxPoints that is not a positive integer', () => {
  assert.throws(() => downsampleMean([], 0), /maxPoints must be an integer >= 1, got 0/);
  assert.throws(() => downsampleMean([], 2.5), /got 2.5/);
});

test('the training-curves spec keeps every evaluation and thins the per-step curves', () => {
  const history = fakeTrainingHistory(2000, 100);
  const spec = trainingCurvesSpec(history, { maxPoints: 100 }) as Spec;
  const lossRows = spec.hconcat[0].data.values as { step: number; value: number; series: string }[];
  const train = lossRows.filter((r) => r.series === 'training batches');
  const evals = lossRows.filter((r) => r.series === 'fixed evaluation set');
  assert.equal(train.length, 100);
  assert.deepEqual(evals.map((r) => r.step), history.evals.map((e) => e.step));
  assert.deepEqual(evals.map((r) => r.value), history.evals.map((e) => e.loss));
  assert.equal(train[train.length - 1].step, 2000);
  // The second panel draws the error rate, 1 − accuracy, on a log axis.
  const errorPanel = spec.hconcat[1];
  assert.equal(errorPanel.title, 'Error rate');
  // Both axes span the data: not rounded out to the next power of ten.
  assert.deepEqual(errorPanel.layer[0].encoding.y.scale, { type: 'log', nice: false });
  const errorRows = errorPanel.layer[0].data.values as { series: string; value: number }[];
  assert.deepEqual(errorRows.filter((r) => r.series.startsWith('fixed')).map((r) => r.value),
    history.evals.map((e) => 1 - e.accuracy));
  const accuracySpec = trainingCurvesSpec(history, { accuracyAxis: 'accuracy' }) as Spec;
  assert.deepEqual(accuracySpec.hconcat[1].layer[0].data.values
    .filter((r: { series: string }) => r.series.startsWith('fixed')).map((r: { value: number }) => r.value),
  history.evals.map((e) => e.accuracy));
});

test('a perfect batch (error rate 0) is left off the log axis, and the learning rate gets its own panel', () => {
  const history = fakeTrainingHistory(20, 10);
  history.steps.forEach((r, i) => { r.learningRate = 1e-3 * (1 - i / 20); });
  history.steps[4].accuracy = 1;
  const spec = trainingCurvesSpec(history, { maxPoints: 20 }) as Spec;
  const errorRows = spec.hconcat[1].layer[0].data.values as { step: number; value: number }[];
  assert.ok(errorRows.every((r) => r.value > 0));
  assert.ok(!errorRows.some((r) => r.step === 5));
  assert.equal(spec.hconcat.length, 3);
  assert.equal(spec.hconcat[2].title, 'Learning rate');
  assert.deepEqual(spec.hconcat[2].data.values.map((r: { value: number }) => r.value),
    history.steps.map((r) => r.learningRate));
  assert.equal((trainingCurvesSpec(fakeTrainingHistory(20, 10)) as Spec).hconcat.length, 2, 'no rates recorded: no panel');
});

test('the accuracy panel has a dashed rule at the article\'s 98%, named in the legend, unless turned off', () => {
  const withRule = trainingCurvesSpec(fakeTrainingHistory(10, 5)) as Spec;
  const rule = withRule.hconcat[1].layer[1];
  assert.equal(rule.mark.type, 'rule');
  assert.deepEqual(rule.encoding.strokeDash.scale, { domain: ['article: 98% (2% error)'], range: [[6, 4]] });
  assert.equal(rule.encoding.strokeDash.legend.orient, 'bottom');
  assert.deepEqual(rule.data.values, [{ value: 1 - ARTICLE_ACCURACY, label: 'article: 98% (2% error)' }]);
  assert.ok(withRule.hconcat[1].layer.every((layer: Spec) => layer.mark.type !== 'text'),
    'no label beside the line, where the curves would cross it');
  const without = trainingCurvesSpec(fakeTrainingHistory(10, 5), { referenceAccuracy: null }) as Spec;
  assert.ok(without.hconcat[1].layer.every((layer: Spec) => layer.mark.type !== 'rule'));
});

test('the loss axis falls back to a linear scale when a loss is 0', () => {
  const history = fakeTrainingHistory(10, 5);
  const lossScale = (h: History) => (trainingCurvesSpec(h) as Spec).hconcat[0].layer[0].encoding.y.scale;
  assert.deepEqual(lossScale(history), { type: 'log', nice: false });
  history.steps[3].loss = 0;
  assert.deepEqual(lossScale(history), { zero: true });
});

test('the training curves reject a history without records and a reference outside [0, 1]', () => {
  assert.throws(() => trainingCurvesSpec({ steps: [] } as unknown as History), /History with `steps` and `evals`/);
  assert.throws(() => trainingCurvesSpec(undefined as unknown as History), /got undefined/);
  assert.throws(() => trainingCurvesSpec(fakeTrainingHistory(5, 5), { referenceAccuracy: 98 }),
    /referenceAccuracy must be in \[0, 1\] or null, got 98/);
});

test('training curves render to an SVG with both panels, the legend and the 98% label', async () => {
  const svg = await trainingCurvesSvg(fakeTrainingHistory(500, 100), { title: 'Run A', subtitle: 'step 500 / 500' });
  assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  for (const text of ['Loss (cross-entropy)', 'Error rate', 'article: 98% (2% error)', 'Run A', 'step 500 / 500',
    'training batches', 'fixed evaluation set']) {
    assert.ok(svg.includes(`>${text}<`), `missing text "${text}"`);
  }
  assert.doesNotMatch(svg, /<script/);
});

test('an empty history still renders, so a live chart can be drawn before the first step', async () => {
  const svg = await trainingCurvesSvg({ steps: [], evals: [], endReason: 'completed', elapsedMs: 0 });
  assert.match(svg, /^<svg/);
});

test('a bar chart draws one bar per label, in the given order', async () => {
  const labels = [-2, -1, 0, 1, 2];
  const values = [1, 2, 3, 2, 1];
  const spec = barChartSpec(labels, values, { title: 'Targets' });
  assert.deepEqual((spec as Spec).layer[0].encoding.x.sort, ['-2', '-1', '0', '1', '2']);
  const svg = await renderSvg(spec);
  const bars = markElements(svg, 'mark-rect', 'path');
  assert.equal(bars.length, 5);
  // Bars are paths 'M x,y h width v height h -width Z': the middle bar is three times the first.
  const heights = bars.map((bar) => Number(/ d="M[\d.,]+h[\d.]+v([\d.]+)/.exec(bar)![1]));
  assert.ok(Math.abs(heights[2] / heights[0] - 3) < 1e-6, `heights ${heights.join(', ')}`);
  assert.ok((await barChartSvg(['a'], [1])).startsWith('<svg'));
});

test('a bar chart rejects mismatched, empty, duplicate or non-finite data', () => {
  assert.throws(() => barChartSpec([1, 2], [1]), /one value per label, got 2 labels and 1 values/);
  assert.throws(() => barChartSpec([], []), /at least one bar/);
  assert.throws(() => barChartSpec(['a', 'a'], [1, 2]), /labels must be distinct, got a, a/);
  assert.throws(() => barChartSpec(['a', 'b'], [1, NaN]), /value 1 \(label b\) is not finite: NaN/);
});

test('a small heatmap writes each value in its cell; NaN cells stay grey and blank', async () => {
  const matrix = [[1, 0.5], [NaN, 0]];
  const spec = heatmapSpec(matrix, { format: '.0%', xLabels: ['a', 'b'], yLabels: ['r1', 'r2'] });
  assert.deepEqual((spec as Spec).data.values, [
    { x: 'a', y: 'r1', value: 1 }, { x: 'b', y: 'r1', value: 0.5 },
    { x: 'a', y: 'r2', value: null }, { x: 'b', y: 'r2', value: 0 },
  ]);
  const svg = await renderSvg(spec);
  const cells = markElements(svg, 'mark-rect', 'path');
  assert.equal(cells.length, 4);
  assert.equal(cells.filter((c) => c.includes('fill="#eeeeee"')).length, 1);
  const texts = markElements(svg, 'mark-text', 'text').map((t) => />([^<]*)<\/text>/.exec(t)![1]);
  assert.deepEqual(texts.sort(), ['0%', '100%', '50%']);
});

test('a 19×19 heatmap has no cell text by default, and hideZeroText leaves zeros blank', async () => {
  const n = 19;
  const matrix = Array.from({ length: n }, (_, r) => Array.from({ length: n }, (_, c) => (r === c ? 50 : 0)));
  const auto = heatmapSpec(matrix) as Spec;
  assert.equal(auto.layer.length, 1);
  const svg = await heatmapSvg(matrix, { cellText: true, hideZeroText: true, format: 'd', scaleType: 'symlog' });
  const texts = markElements(svg, 'mark-text', 'text');
  assert.equal(texts.length, n);
  assert.ok(texts.every((t) => t.includes('>50<')));
});

test('a heatmap rejects an empty or ragged matrix and labels of the wrong length', () => {
  assert.throws(() => heatmapSpec([]), /non-empty matrix, got 0 rows/);
  assert.throws(() => heatmapSpec([[1, 2], [3]]), /row 0 has 2 values, row 1 has 1/);
  assert.throws(() => heatmapSpec([[1, 2]], { xLabels: ['a'] }), /2 columns but 1 xLabels/);
  assert.throws(() => heatmapSpec([[1, 2]], { yLabels: ['a', 'b'] }), /1 rows but 2 yLabels/);
});

test('a symlog legend shows 0, powers of ten and the maximum, spread along the gradient', () => {
  assert.deepEqual(symlogLegendValues(0, 580), [0, 10, 100, 580]);
  assert.deepEqual(symlogLegendValues(0, 9000), [0, 10, 100, 1000, 9000], '1 would crowd 0 and is left out');
  assert.deepEqual(symlogLegendValues(0, 120), [0, 1, 10, 120], '100 is too close to 120 and gives way to it');
  assert.deepEqual(symlogLegendValues(0, 0), [0, 0]);
  const spec = heatmapSpec([[0, 3], [40, 500]], { scaleType: 'symlog' }) as unknown as
    { layer: { encoding: { color: { legend: { values?: number[] } } } }[] };
  assert.deepEqual(spec.layer[0].encoding.color.legend.values, [0, 10, 100, 500]);
  const linear = heatmapSpec([[0, 3], [40, 500]]) as unknown as typeof spec;
  assert.equal(linear.layer[0].encoding.color.legend.values, undefined, 'other scales keep Vega\'s ticks');
});

test('a bar chart can carry an interval per bar and a zoomed axis', async () => {
  const spec = barChartSpec(['a', 'b'], [0.99, 0.97], {
    intervals: [[0.97, 1], [0.93, 0.99]], yDomain: [0.9, 1], format: '.0%',
  }) as Spec;
  assert.equal(spec.layer.length, 2);
  assert.deepEqual(spec.data.values[1], { label: 'b', value: 0.97, low: 0.93, high: 0.99 });
  assert.deepEqual(spec.layer[0].encoding.y.scale.domain, [0.9, 1]);
  assert.equal(spec.layer[1].mark.type, 'rule');
  assert.ok((await renderSvg(spec as ChartSpec)).startsWith('<svg'));
  assert.throws(() => barChartSpec(['a'], [1], { intervals: [] }), /one interval per bar, got 0 for 1 bars/);
  assert.throws(() => barChartSpec(['a'], [1], { intervals: [[0.5, 0.2]] }), /interval 0 \(label a\) is not \[low, high\]/);
});

test('heatmap cells can show counts as text, and zero cells a colour of their own', async () => {
  const matrix = [[0, 1], [2, 40]];
  const labels = [['', '1/3'], ['2/2', '40/41']];
  const spec = heatmapSpec(matrix, { cellText: true, cellLabels: labels, zeroColor: 'white', scaleType: 'symlog' }) as Spec;
  assert.deepEqual(spec.data.values[1], { x: '1', y: '0', value: 1, label: '1/3' });
  assert.deepEqual(spec.layer[1].encoding.text, { field: 'label', type: 'nominal' });
  const conditions = spec.layer[0].encoding.color.condition;
  assert.deepEqual(conditions[1], { test: 'datum.value === 0', value: 'white' });
  const svg = await renderSvg(spec as ChartSpec);
  assert.ok(svg.includes('40/41') && svg.includes('2/2'));
  assert.match(svg, /fill="white"/);
  assert.throws(() => heatmapSpec(matrix, { cellLabels: [['a']] }), /cellLabels must be 2 rows of 2 labels/);
});

/** Evaluations every 100 steps with these accuracies. */
const evalsOf = (accuracies: number[]) => accuracies.map((accuracy, i) => ({ step: (i + 1) * 100, loss: 1, accuracy }));

test('a comparison chart can show every evaluation, or the whole run next to the zoom on the later ones', () => {
  const groups = [{ label: 'A', runs: [evalsOf([0.2, 0.9, 0.97, 0.98, 0.985])] }];
  // The default fits the axis to steps >= 30% of the last (200 on): errors of 1.5% to 10%; step 100 is clipped.
  const late = comparisonCurvesSpec(groups) as Spec;
  assert.deepEqual(late.layer[1].encoding.y.scale.domain, [0.01, 0.1]);
  const all = comparisonCurvesSpec(groups, { range: 'all' }) as Spec;
  assert.deepEqual(all.layer[1].encoding.y.scale.domain, [0.01, 1], 'from the first evaluation (80% error) on');
  const both = comparisonCurvesSpec(groups, { overview: true }) as Spec;
  assert.equal(both.hconcat.length, 2, 'an overview panel, then the zoom');
  assert.equal(both.hconcat[0].title, 'The whole run');
  assert.deepEqual(both.hconcat[0].layer[1].encoding.y.scale.domain, [0.01, 1]);
  assert.deepEqual(both.hconcat[1].layer[1].encoding.y.scale.domain, [0.01, 0.1]);
  assert.match(both.hconcat[1].title, /^Zoomed on the evaluations from step 200 on$/);
  // Nothing clipped: one panel is enough.
  const unclipped = comparisonCurvesSpec([{ label: 'A', runs: [evalsOf([0.97, 0.98, 0.985])] }], { overview: true }) as Spec;
  assert.equal(unclipped.hconcat, undefined);
  assert.throws(() => comparisonCurvesSpec(groups, { range: 'some' as 'all' }), /range must be \[lo, hi\], 'all' or 'late'/);
});

test('a comparison chart\'s final bars span each group\'s lowest to highest final accuracy, in the group\'s colour', async () => {
  const groups = [
    { label: 'A', runs: [evalsOf([0.9, 0.97]), evalsOf([0.9, 0.98])], color: '#d62728' },
    { label: 'B', runs: [evalsOf([0.9, 0.96]), evalsOf([0.9, 0.99])] },
    { label: 'C', runs: [evalsOf([0.9, 0.975])] },
  ];
  const spec = comparisonCurvesSpec(groups, { band: 'final', range: 'all' }) as Spec;
  assert.ok(!spec.layer.some((l: Spec) => l.mark.type === 'area'), 'no bands along the curves');
  const bars = spec.layer.filter((l: Spec) => l.mark.type === 'rule' && l.data?.values[0].group !== undefined);
  assert.deepEqual(bars.map((l: Spec) => l.data.values[0].group), ['A', 'B', 'C']);
  const [a, b] = bars.map((l: Spec) => l.data.values[0]);
  close(a.lo, 0.02, 1e-12);
  close(a.hi, 0.03, 1e-12);
  close(b.lo, 0.01, 1e-12);
  close(b.hi, 0.04, 1e-12);
  assert.deepEqual(new Set(bars.map((l: Spec) => l.mark.xOffset)).size, 3, 'side by side');
  assert.deepEqual(spec.layer[0].encoding.color.scale.range.slice(0, 2), ['#d62728', '#f58518'],
    'a given colour, then the scheme\'s for the others');
  assert.match(spec.title.subtitle, /bars at the right: final min–max over seeds/);
  assert.match(await comparisonCurvesSvg(groups, { band: 'final' }), /^<svg/);
});

test('a scatter chart can name each group at the median of its points, in colours that stay apart', async () => {
  const points = [{ x: 0, y: 0, group: 0 }, { x: 2, y: 4, group: 0 }, { x: 4, y: 2, group: 0 }, { x: 10, y: 10, group: 1 }];
  const spec = scatterChartSpec(points, { groupLabels: true }) as Spec;
  assert.equal(spec.layer[0].encoding.color.scale.scheme, 'category10');
  const text = spec.layer.find((l: Spec) => l.mark.type === 'text');
  assert.ok(text, 'a text layer names the groups');
  assert.deepEqual(text.transform[1].aggregate.map((a: Spec) => a.op), ['median', 'median']);
  const svg = await renderSvg(spec as ChartSpec);
  // The label of group 0 sits at its median point (2, 2); that of group 1 at its only point.
  assert.match(svg, />0</);
  assert.match(svg, />1</);
  assert.equal((scatterChartSpec(points) as Spec).layer.length, 1, 'no labels unless asked');
});

function close(actual: number, expected: number, tolerance: number): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);
}
