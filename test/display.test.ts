import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { barChartSvg, heatmapSpec, symlogLegendValues } from '../lib/view/charts';
import { greyPng } from '../lib/view/images';
import { pngSize, svgToPng } from '../lib/view/png';
import { newNotebookDisplay, notebookDisplay } from '../lib/view/notebook';

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

