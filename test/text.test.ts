import { test } from 'node:test';
import assert from 'node:assert/strict';
import { barChartSvg } from '../lib/view/charts';
import { describeSequence, formatDuration, formatProbability, formatSigned, svgText } from '../lib/view/text';

test('probabilities near certainty keep a decimal and never round up to 100%', () => {
  assert.equal(formatProbability(0.51), '51%');
  assert.equal(formatProbability(0.9896), '99%');
  assert.equal(formatProbability(0.99996), '>99.9%');
  assert.equal(formatProbability(0.996), '99.6%');
  assert.equal(formatProbability(1), '100%');
});

test('captions use a true minus sign and the task\'s operator', () => {
  assert.equal(formatSigned(-4), '−4');
  assert.equal(formatSigned(0), '0');
  assert.equal(describeSequence([3, 7], -4, 'difference'), '3 − 7 = −4');
  assert.equal(describeSequence([3, 7, 1], 11, 'sum'), '3 + 7 + 1 = 11');
  assert.equal(describeSequence([3, 7], 1, 'parity'), 'parity(3, 7) = 1');
});

test('svgText gives a chart\'s headings, or all the text of another SVG', async () => {
  const chart = await barChartSvg(['a', 'b'], [1, 2], { title: 'Two bars', xTitle: 'letter', yTitle: 'count' });
  assert.equal(svgText(chart), 'Two bars · letter · count');
  const plain = '<svg><text x="1">7 &#8722; 3 = 4</text><text>A &amp; B &lt;C&gt;</text><text> </text></svg>';
  assert.equal(svgText(plain), '7 &#8722; 3 = 4 · A & B <C>');
  assert.equal(svgText('<svg><text>abcdef</text></svg>', 4), 'abc…');
  assert.equal(svgText('<svg></svg>'), '');
});

test('a duration reads in seconds under a minute, then minutes and seconds, then hours and minutes', () => {
  assert.equal(formatDuration(42), '42.0 s');
  assert.equal(formatDuration(0), '0.0 s');
  // Just under a minute does not round up to `60.0 s`.
  assert.equal(formatDuration(59.94), '59.9 s');
  assert.equal(formatDuration(59.96), '1m 00s');
  assert.equal(formatDuration(370.8), '6m 11s');
  assert.equal(formatDuration(3599.4), '59m 59s');
  assert.equal(formatDuration(7200 + 5 * 60), '2h 05m');
  assert.equal(formatDuration(Number.NaN), '–');
});
