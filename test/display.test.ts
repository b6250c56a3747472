import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { barChartSvg, heatmapSpec, symlogLegendValues } from '../lib/view/charts';
import { greyPng } from '../lib/view/images';
import { pngSize, svgToPng } from '../lib/view/png';
import { newNotebookDisplay, notebookDisplay } from '../lib/view/notebook';
import { environmentSummary, tensorCensus } from '../lib/view/machine';
import { svgText } from '../lib/view/text';
import type { RunEnvironment } from '../lib/runs/environment';
import { tf } from '../lib/tf';
import { buildCrnn, disposeCrnn } from '../lib/model/build';

/** Number of pixels darker than mid-grey in a PNG. */
function darkPixels(png: Buffer): number {
  const { data } = PNG.sync.read(png);
  let dark = 0;
  for (let i = 0; i < data.length; i += 4) if (data[i] < 128 && data[i + 3] > 0) dark++;
  return dark;
}

const textSvg = (family: string) => '<svg xmlns="http://www.w3.org/2000/svg" width="80" height="24">' +
  `<rect width="80" height="24" fill="white"/><text x="2" y="18" font-family="${family}" font-size="16">Hi 7</text></svg>`;

test('svgToPng draws an SVG at `scale` times its size', () => {
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="30" height="10"><rect width="30" height="10" fill="black"/></svg>';
  assert.deepEqual(pngSize(svgToPng(svg)), { width: 60, height: 20 }, 'default scale 2');
  const png = svgToPng(svg, { scale: 1 });
  assert.deepEqual(pngSize(png), { width: 30, height: 10 });
  assert.equal(darkPixels(png), 300);
  assert.deepEqual(pngSize(svgToPng(`<?xml version="1.0"?>\n${svg}`, { scale: 1.5 })), { width: 45, height: 15 });
});

test('svgToPng finds a font for Vega\'s "sans-serif" and for the captions\' font list', () => {
  for (const family of ['sans-serif', 'DejaVu Sans, Helvetica, Arial, sans-serif']) {
    assert.ok(darkPixels(svgToPng(textSvg(family), { scale: 1 })) > 30, `text in ${family} is drawn`);
  }
});

test('a rasterised chart keeps its text', async () => {
  const svg = await barChartSvg(['a', 'b'], [1, 2], { title: 'Two bars' });
  const withText = svgToPng(svg, { scale: 1 });
  const withoutText = svgToPng(svg.replace(/<text\b[^>]*>[^<]*<\/text>/g, ''), { scale: 1 });
  assert.ok(darkPixels(withText) > darkPixels(withoutText) + 50, 'title and labels add dark pixels');
});

test('svgToPng rejects what is not SVG, a bad scale and SVG it cannot parse', () => {
  assert.throws(() => svgToPng('<div>no</div>'), /svgToPng needs an SVG document string starting with <svg, got "<div>no<\/div>"/);
  assert.throws(() => svgToPng(42 as unknown as string), /starting with <svg, got "42"/);
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"></svg>';
  for (const scale of [0, -1, NaN, 9]) {
    assert.throws(() => svgToPng(svg, { scale }), new RegExp(`scale must be a number in \\(0, 8\\], got ${scale}`));
  }
  assert.throws(() => svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="2"'), /svgToPng cannot parse the SVG/);
});

test('pngSize reads the header and rejects bytes that are not PNG', () => {
  assert.deepEqual(pngSize(greyPng(new Uint8Array(12), 3, 4)), { width: 4, height: 3 });
  assert.throws(() => pngSize(new Uint8Array(30)), /pngSize needs PNG bytes/);
  assert.throws(() => pngSize(greyPng(new Uint8Array(4), 2, 2).subarray(0, 20)), /pngSize needs PNG bytes/);
});

test('svgText gives a chart\'s headings, or all the text of another SVG', async () => {
  const chart = await barChartSvg(['a', 'b'], [1, 2], { title: 'Two bars', xTitle: 'letter', yTitle: 'count' });
  assert.equal(svgText(chart), 'Two bars · letter · count');
  const plain = '<svg><text x="1">7 &#8722; 3 = 4</text><text>A &amp; B &lt;C&gt;</text><text> </text></svg>';
  assert.equal(svgText(plain), '7 &#8722; 3 = 4 · A & B <C>');
  assert.equal(svgText('<svg><text>abcdef</text></svg>', 4), 'abc…');
  assert.equal(svgText('<svg></svg>'), '');
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

// The kernel's writer, as tslab sets it while a cell runs.
interface Message { data: Record<string, string>; metadata: Record<string, unknown>; transient: { display_id?: string } }
// eslint-disable-next-line @typescript-eslint/no-require-imports
const kernel = require('tslab/dist/jupyter') as { lastWriteDisplayData: ((m: Message, update: boolean) => void) | null };
afterEach(() => { kernel.lastWriteDisplayData = null; });

function captureKernel(): { message: Message; update: boolean }[] {
  const sent: { message: Message; update: boolean }[] = [];
  kernel.lastWriteDisplayData = (message, update) => sent.push({ message, update });
  return sent;
}

test('in the kernel, one output carries the PNG, its displayed size and the text stand-in', () => {
  const sent = captureKernel();
  const png = greyPng(new Uint8Array(4), 2, 2);
  const display = notebookDisplay();
  display.png(png, { width: 1, height: 1, alt: 'a grey square' });
  display.png(png);
  display.text('done');
  assert.deepEqual(sent.map((s) => s.message.data), [
    { 'image/png': png.toString('base64'), 'text/plain': 'a grey square' },
    { 'image/png': png.toString('base64') },
    { 'text/plain': 'done' },
  ]);
  assert.deepEqual(sent[0].message.metadata, { 'image/png': { width: 1, height: 1 } });
  assert.deepEqual(sent[1].message.metadata, {});
  assert.ok(sent.every((s) => s.update === false && s.message.transient.display_id === undefined), 'each call adds an output');
});

test('an in-place display sends one display id and updates it after the first output', () => {
  const sent = captureKernel();
  const png = greyPng(new Uint8Array(4), 2, 2);
  const first = newNotebookDisplay();
  const second = newNotebookDisplay();
  first.png(png);
  first.png(png);
  second.png(png);
  assert.deepEqual(sent.map((s) => s.update), [false, true, false]);
  const [a, b, c] = sent.map((s) => s.message.transient.display_id);
  assert.match(a ?? '', /^[0-9a-f]{16}$/);
  assert.equal(b, a);
  assert.notEqual(c, a);
});

test('environmentSummary names the CPU, its cores, the versions and the kernel settings only', () => {
  const env: RunEnvironment = {
    node: 'v20.1.0', tfjs: '4.22.0', libtensorflow: '2.9.1', backend: 'tensorflow',
    cpu: { model: 'Some CPU @ 2.0GHz ', flags: ['avx2', 'fma'], cores: 2 },
    tfEnvironment: { TF_ENABLE_ONEDNN_OPTS: '1', TF_CLI_CONFIG_FILE: '/home/me/.terraformrc' },
    gitCommit: null, platform: 'Linux 6.1 x64',
  };
  assert.equal(environmentSummary(env), 'CPU: Some CPU @ 2.0GHz, 2 cores; avx2, fma (Linux 6.1 x64)\n' +
    'software: Node v20.1.0, TensorFlow.js 4.22.0, libtensorflow 2.9.1, tensorflow backend; TF_ENABLE_ONEDNN_OPTS=1');
  const plain = environmentSummary({
    ...env, libtensorflow: null, backend: 'cpu', tfEnvironment: {}, cpu: { model: 'X', flags: [], cores: 1 },
  });
  assert.equal(plain, 'CPU: X, 1 core (Linux 6.1 x64)\nsoftware: Node v20.1.0, TensorFlow.js 4.22.0, cpu backend');
});

test('tensorCensus splits the tensors in memory into weights, optimiser state and the rest', async () => {
  const before = tf.memory().numTensors;
  const model = buildCrnn({ hiddenSize: 8, denseUnits: 8, filters: [2, 2] });
  const stray = tf.scalar(1);
  try {
    const census = tensorCensus(model);
    assert.equal(census.weights, model.weights.length);
    assert.equal(census.optimizer, 2, "Adam's running powers of beta1 and beta2, before any step");
    assert.equal(census.other, before + 1, 'the stray scalar and whatever was there before');
    assert.equal(census.total, census.weights + census.optimizer + census.other);
    assert.equal(census.text, `${census.total} tensors: ${census.weights} weights, 2 optimiser state, ${before + 1} other`);
    const [xs, ys] = [tf.zeros([1, 2, 28, 28, 1]), tf.oneHot([3], 19)];
    await model.trainOnBatch(xs, ys);
    tf.dispose([xs, ys]);
    const trained = tensorCensus(model);
    assert.equal(trained.optimizer, 2 + 2 * model.weights.length, 'and two moments per weight after a step');
    assert.equal(trained.other, before + 1);
    assert.equal(tensorCensus().weights, 0, 'without a model, everything is other');
  } finally {
    stray.dispose();
    disposeCrnn(model);
  }
});
