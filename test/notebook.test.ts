/**
 * lib/view/notebook.ts: what the notebook shows and how it reaches the tslab
 * kernel. The show* functions write to a recording Display; the kernel's
 * writer is replaced by a recorder as tslab sets it while a cell runs.
 */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { digitImages, greyPng, imageGridPng, labelledGridSvg } from '../lib/view/images';
import { pngSize } from '../lib/view/png';
import {
  newNotebookDisplay, notebookDisplay, sequenceCells, showDigits, showImages, showPng, showSequences, showSvg,
} from '../lib/view/notebook';
import { differenceTask } from '../lib/data/tasks';
import { recorder } from './helpers/display-recorder';
import { tinySet } from './helpers/digit-sets';

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

test('markdown goes to the kernel as text/markdown, with the same text as its plain stand-in', () => {
  const sent = captureKernel();
  notebookDisplay().markdown('**98%** of the article');
  assert.deepEqual(sent.map((s) => s.message.data), [{ 'text/markdown': '**98%** of the article', 'text/plain': '**98%** of the article' }]);
});

test('showSvg and showPng check what they are given', () => {
  const display = recorder();
  assert.throws(() => showSvg('<div>no</div>', { display }), /SVG document string starting with <svg, got <div>/);
  assert.throws(() => showPng(new Uint8Array([1, 2, 3, 4]), display), /PNG bytes/);
  showPng(greyPng(new Uint8Array(4), 2, 2), display);
  showSvg('<svg xmlns="http://www.w3.org/2000/svg" width="30" height="20"><text>hi</text></svg>', { display, scale: 1.5 });
  assert.deepEqual(display.outputs.map((o) => o.type), ['png', 'png']);
  assert.deepEqual(display.outputs[1].options, { width: 30, height: 20, alt: 'hi' });
  assert.deepEqual(pngSize(display.outputs[1].value as Uint8Array), { width: 45, height: 30 });
});

test('showing outside a tslab kernel fails with a message saying so', () => {
  assert.throws(() => showSvg('<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"></svg>'),
    /tslab can only show output inside a running tslab kernel/);
});

test('showImages draws a plain PNG without titles and a captioned grid, rasterised at 2×, with them', () => {
  const images = digitImages(tinySet(), [0, 1]);
  const display = recorder();
  showImages(images, { height: 3, width: 2, display });
  showImages(images, { height: 3, width: 2, titles: ['zero', 'one'], highlight: [true, false], display });
  assert.deepEqual(display.outputs.map((o) => o.type), ['png', 'png']);
  assert.equal(PNG.sync.read(Buffer.from(display.outputs[0].value as Uint8Array)).height, 3 * 2 + 2 * 4);
  const captioned = display.outputs[1];
  assert.equal(captioned.options?.alt, 'zero · one');
  const svg = labelledGridSvg(images.map((image, i) => ({ images: [image], caption: ['zero', 'one'][i], highlight: i === 0 })),
    { height: 3, width: 2, cols: 8 });
  const svgWidth = Number(/width="(\d+)"/.exec(svg)![1]);
  assert.equal(captioned.options?.width, svgWidth, 'shown at the SVG\'s size');
  assert.equal(pngSize(captioned.value as Uint8Array).width, 2 * svgWidth, 'drawn at twice the SVG\'s size');
  assert.throws(() => showImages(images, { height: 3, width: 2, titles: ['zero'], display }), /1 titles for 2 images/);
});

test('showImages draws a titled grid with its grey-scale key, and says both in the text stand-in', () => {
  const images = digitImages(tinySet(), [0, 1]);
  const display = recorder();
  showImages(images, { height: 3, width: 2, invert: false, title: 'Two images', greyScale: { black: '0', white: '1' }, display });
  assert.equal(display.outputs[0].type, 'png');
  assert.equal(display.outputs[0].options?.alt, 'Two images\ngrey scale: black 0, white 1');
});

test('showDigits captions each image with its label, or shows the bare grid with labels: false', () => {
  const set = tinySet();
  const display = recorder();
  showDigits(set, [2, 0], { display });
  showDigits(set, [2, 0], { labels: false, invert: false, display });
  assert.deepEqual(display.outputs.map((o) => o.type), ['png', 'png']);
  const [captioned, bare] = display.outputs;
  assert.equal(captioned.options?.alt, '2 · 0', 'the labels of images 2 and 0, in the order asked');
  const [two, zero] = digitImages(set, [2, 0]);
  const svg = labelledGridSvg([{ images: [two], caption: '2' }, { images: [zero], caption: '0' }],
    { height: 3, width: 2, cols: 8, scale: 2, invert: true });
  assert.equal(captioned.options?.width, Number(/width="(\d+)"/.exec(svg)![1]), 'the set\'s image size, captioned');
  assert.deepEqual(bare.value, imageGridPng([two, zero], { height: 3, width: 2, cols: 8, scale: 2, invert: false }));
  assert.equal(bare.options, undefined, 'no caption, no text stand-in');
});

test('sequence cells caption targets and predictions and highlight the mistakes', () => {
  const set = tinySet();
  const records = {
    indices: Int32Array.from([3, 1, 0, 2]),
    digits: Int32Array.from([3, 1, 0, 2]),
    targets: Int32Array.from([2 + 9, -2 + 9]),
  };
  const cells = sequenceCells(set, records, {
    task: differenceTask, predictions: [11, 9], probabilities: [0.994, 0.51],
  });
  assert.deepEqual(cells.map((c) => c.caption), [['3 − 1 = 2', 'predicted 2 (99.4%)'], ['0 − 2 = −2', 'predicted 0 (51%)']]);
  assert.deepEqual(cells.map((c) => c.highlight), [false, true]);
  assert.deepEqual(cells.map((c) => c.images.map((image) => image[0])), [[30, 10], [0, 20]]);

  const display = recorder();
  showSequences(set, records, { task: differenceTask, count: 1, display });
  showSequences(set, records, { task: differenceTask, predictions: [11, 9], title: 'Both', display });
  assert.deepEqual(display.outputs.map((o) => o.type), ['png', 'png']);
  assert.equal(display.outputs[0].options?.alt, '3 − 1 = 2', 'count: 1 shows one sequence');
  assert.equal(display.outputs[1].options?.alt, 'Both\n3 − 1 = 2, predicted 2\n0 − 2 = −2, predicted 0');
  const [one, both] = display.outputs.map((o) => pngSize(o.value as Uint8Array));
  assert.ok(both.width > one.width && both.height > one.height, 'two cells, a second caption line and a title make a larger picture');
});

test('sequence cells reject mismatched records, a bad count and too few predictions', () => {
  const set = tinySet();
  const records = { indices: Int32Array.from([0, 1, 2, 3]), digits: Int32Array.from([0, 1, 2, 3]), targets: Int32Array.from([8, 8]) };
  const task = differenceTask;
  assert.throws(() => sequenceCells(set, { ...records, digits: Int32Array.from([0, 1]) }, { task }),
    /4 indices, 2 digits, 2 targets/);
  assert.throws(() => sequenceCells(set, records, { task, count: 3 }), /count must be an integer in \[1, 2\], got 3/);
  assert.throws(() => sequenceCells(set, records, { task, predictions: [8] }), /got 1 predictions for 2 sequences/);
  assert.throws(() => sequenceCells(set, { ...records, targets: new Int32Array(0) }, { task }), /at least one sequence/);
});
