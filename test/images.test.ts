import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import {
  digitImage, digitImages, escapeXml, greyPng, imageGridPng, labelledGridSvg, sequenceImages,
} from '../lib/view/images';
import { svgToPng } from '../lib/view/png';
import { tinySet } from './helpers/digit-sets';

function count(text: string, pattern: RegExp): number {
  return (text.match(pattern) ?? []).length;
}

test('digitImage returns a view of one image and rejects an index out of range', () => {
  const set = tinySet();
  assert.deepEqual([...digitImage(set, 2)], [20, 21, 22, 23, 24, 25]);
  assert.equal(digitImage(set, 2).buffer, set.images.buffer, 'a view, not a copy');
  assert.deepEqual(digitImages(set, [3, 0]).map((image) => image[0]), [30, 0]);
  assert.throws(() => digitImage(set, 4), /Image index 4 is out of range for a set of 4 images/);
  assert.throws(() => digitImage(set, -1), /Image index -1/);
  assert.throws(() => digitImage(set, 1.5), /Image index 1.5/);
});

test('sequenceImages splits row-major indices into sequences', () => {
  const sequences = sequenceImages(tinySet(), Int32Array.from([0, 1, 3, 2]), 2);
  assert.deepEqual(sequences.map((images) => images.map((image) => image[0])), [[0, 10], [30, 20]]);
  assert.throws(() => sequenceImages(tinySet(), [0, 1, 2], 2), /3 image indices do not split into sequences of length 2/);
  assert.throws(() => sequenceImages(tinySet(), [0, 1], 0), /seqLength must be an integer >= 1, got 0/);
});

test('greyPng encodes an 8-bit grey PNG that decodes to the (inverted) pixels', () => {
  const pixels = Uint8Array.from([0, 50, 100, 150, 200, 255]);
  const inverted = PNG.sync.read(greyPng(pixels, 3, 2));
  assert.equal(inverted.width, 2);
  assert.equal(inverted.height, 3);
  const redChannel = (png: PNG) => Array.from({ length: 6 }, (_, i) => png.data[i * 4]);
  assert.deepEqual(redChannel(inverted), [255, 205, 155, 105, 55, 0]);
  assert.deepEqual(redChannel(PNG.sync.read(greyPng(pixels, 3, 2, { invert: false }))), [...pixels]);
  assert.throws(() => greyPng(pixels, 2, 2), /Image has 6 pixels, expected 2×2 = 4/);
  assert.throws(() => greyPng(pixels, 0, 6), /height must be an integer >= 1, got 0/);
});

test('imageGridPng lays images out row by row, upscaled, with red frames on highlighted ones', () => {
  const set = tinySet();
  const images = digitImages(set, [0, 1, 2]);
  const png = PNG.sync.read(imageGridPng(images, {
    height: 3, width: 2, cols: 2, scale: 3, gap: 2, invert: false, highlight: [false, true, false],
  }));
  // 2 columns of 2·3 pixels and 2 rows of 3·3 pixels, with 2-pixel gaps around them.
  assert.equal(png.width, 2 * 6 + 3 * 2);
  assert.equal(png.height, 2 * 9 + 3 * 2);
  const at = (x: number, y: number) => Array.from(png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 3));
  // Image 1 starts at x = 2 + 6 + 2 = 10, y = 2; its pixel (row 2, col 1) = 15 covers output (13..15, 8..10).
  assert.deepEqual(at(10 + 3, 2 + 6), [15, 15, 15]);
  // Image 2 (second row) starts at y = 2 + 9 + 2 = 13; pixel (0, 0) = 20.
  assert.deepEqual(at(2, 13), [20, 20, 20]);
  assert.deepEqual(at(9, 1), [214, 39, 40], 'frame around image 1');
  assert.deepEqual(at(1, 1), [255, 255, 255], 'no frame around image 0');
});

test('a digit grid is 8-bit grey, and stays colour (RGB) when a mistake is framed in red', () => {
  const images = digitImages(tinySet(), [0, 1, 2]);
  const options = { height: 3, width: 2, cols: 2 };
  const colourType = (png: Uint8Array) => png[25];
  assert.equal(colourType(imageGridPng(images, options)), 0);
  assert.equal(colourType(imageGridPng(images, { ...options, highlight: [false, false, false] })), 0);
  assert.equal(colourType(imageGridPng(images, { ...options, highlight: [false, true, false] })), 2);
  // Captioned grids, rasterised: grey captions and digits, a red frame and caption on a mistake.
  const cells = images.map((image, i) => ({ images: [image], caption: `digit ${i}` }));
  assert.equal(colourType(svgToPng(labelledGridSvg(cells, options))), 0);
  const withMistake = cells.map((cell, i) => ({ ...cell, highlight: i === 1 }));
  assert.equal(colourType(svgToPng(labelledGridSvg(withMistake, options))), 2);
});

test('imageGridPng rejects an empty list, wrong image sizes and a highlight of the wrong length', () => {
  const images = digitImages(tinySet(), [0, 1]);
  const options = { height: 3, width: 2, cols: 2 };
  assert.throws(() => imageGridPng([], options), /at least one image, got 0/);
  assert.throws(() => imageGridPng(images, { ...options, width: 3 }), /Image 0 has 6 pixels, expected 3×3 = 9/);
  assert.throws(() => imageGridPng(images, { ...options, highlight: [true] }), /highlight has 1 flags for 2 images/);
  assert.throws(() => imageGridPng(images, { ...options, cols: 0 }), /cols must be an integer >= 1, got 0/);
  assert.throws(() => imageGridPng(images, { ...options, gap: -1 }), /gap must be an integer >= 0, got -1/);
});

test('labelledGridSvg embeds one PNG per digit and writes escaped captions', () => {
  const [a, b, c] = digitImages(tinySet(), [0, 1, 2]);
  const svg = labelledGridSvg([
    { images: [a, b], caption: ['0 − 1 = −1', 'x < y & "z"'] },
    { images: [c, a], caption: 'second', highlight: true },
  ], { height: 3, width: 2, cols: 2, title: 'Pairs' });
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal(count(svg, /<image /g), 4);
  assert.equal(count(svg, /xlink:href="data:image\/png;base64,/g), 4);
  assert.ok(svg.includes('>0 − 1 = −1<'));
  assert.ok(svg.includes('>x &lt; y &amp; &quot;z&quot;<'));
  assert.ok(svg.includes('>Pairs<'));
  assert.equal(count(svg, /stroke="#d62728"/g), 1, 'one red frame');
  assert.ok(svg.includes('fill="#d62728">second<'), 'the mistake\'s caption is red');
  assert.doesNotMatch(svg, /<script/);
});

test('labelledGridSvg rejects no cells, a cell without images and a wrongly sized image', () => {
  const [a] = digitImages(tinySet(), [0]);
  const options = { height: 3, width: 2, cols: 2 };
  assert.throws(() => labelledGridSvg([], options), /at least one cell, got 0/);
  assert.throws(() => labelledGridSvg([{ images: [] }], options), /Cell 0 has no images/);
  assert.throws(() => labelledGridSvg([{ images: [a] }, { images: [a, new Uint8Array(5)] }], options),
    /Image 1 of cell 1 has 5 pixels, expected 3×2 = 6/);
});

test('escapeXml escapes the five XML special characters', () => {
  assert.equal(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});

test('labelledGridSvg frames every image and can add a grey-scale key under the grid', () => {
  const [a, b] = digitImages(tinySet(), [0, 1]);
  const plain = labelledGridSvg([{ images: [a] }, { images: [b] }], { height: 3, width: 2, cols: 2, invert: false });
  assert.equal(count(plain, /fill="none" stroke="#888888"/g), 2, 'white pixels stay apart from the white background');
  assert.doesNotMatch(plain, /linearGradient/);
  const keyed = labelledGridSvg([{ images: [a] }, { images: [b] }], {
    height: 3, width: 2, cols: 2, invert: false, greyScale: { black: '−0.5', middle: '0', white: '+0.5', title: 'weight' },
  });
  assert.match(keyed, /<linearGradient id="grey-scale-key"><stop offset="0" stop-color="black"\/>/);
  for (const label of ['>−0.5<', '>0<', '>+0.5<', '>weight<']) assert.ok(keyed.includes(label), `the key shows ${label}`);
  const height = (svg: string) => Number(/height="(\d+)"/.exec(svg)![1]);
  assert.ok(height(keyed) > height(plain), 'the key adds a band under the grid');
});
