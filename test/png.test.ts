import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { barChartSvg } from '../lib/view/charts';
import { greyPng } from '../lib/view/images';
import { encodePng, PNG_GREY, PNG_RGB, pngSize, RASTER_FONT, svgToPng } from '../lib/view/png';

/** The colour type in a PNG's header (byte 25: after the signature, IHDR's length and type, width, height, bit depth). */
const colourType = (png: Uint8Array) => png[25];

/** What resvg itself writes for `svg` at scale 1 (RGBA), with svgToPng's settings. */
function resvgPng(svg: string): Buffer {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Resvg } = require('@resvg/resvg-js') as {
    Resvg: new (svg: string, options: object) => { render(): { asPng(): Buffer } };
  };
  const renderer = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: 1 },
    font: { loadSystemFonts: true, defaultFontFamily: RASTER_FONT, sansSerifFamily: RASTER_FONT },
    imageRendering: 1,
    logLevel: 'error',
  });
  return renderer.render().asPng();
}

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

test('a rasterised chart is RGB (colour type 2) with the pixels resvg draws', async () => {
  const svg = await barChartSvg(['a', 'b', 'c'], [1, 2, 3], { title: 'Three bars' });
  const png = svgToPng(svg, { scale: 1 });
  assert.equal(colourType(png), PNG_RGB);
  const drawn = PNG.sync.read(resvgPng(svg));
  const decoded = PNG.sync.read(png);
  assert.equal(decoded.width, drawn.width);
  assert.equal(decoded.height, drawn.height);
  assert.ok(drawn.data.every((v, i) => i % 4 !== 3 || v === 255), 'resvg draws the chart opaque');
  assert.ok(decoded.data.equals(drawn.data), 'the same pixels');
  assert.ok(png.length < resvgPng(svg).length, `fewer bytes: ${png.length} against resvg's ${resvgPng(svg).length}`);
});

test('a rasterised picture without colour is 8-bit grey (colour type 0) with the same pixels', () => {
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="60" height="24"><rect width="60" height="24" fill="white"/>' +
    '<text x="2" y="18" font-size="16" fill="#444">7 − 3</text><rect x="50" width="10" height="24" fill="#999"/></svg>';
  const png = svgToPng(svg, { scale: 1 });
  assert.equal(colourType(png), PNG_GREY);
  assert.ok(PNG.sync.read(png).data.equals(PNG.sync.read(resvgPng(svg)).data), 'the same pixels');
});

test('transparent pixels are flattened onto white', () => {
  // Left pixel: orange at half opacity; right pixel: nothing drawn.
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="2" height="1">' +
    '<rect width="1" height="1" fill="#ff8000" fill-opacity="0.5"/></svg>';
  const png = svgToPng(svg, { scale: 1 });
  assert.equal(colourType(png), PNG_RGB);
  const { data } = PNG.sync.read(png);
  // Over white: 255 · (1 − α) + colour · α, with α = 128/255.
  assert.deepEqual([...data], [255, 191, 127, 255, 255, 255, 255, 255]);
  assert.equal(colourType(svgToPng(svg.replace('#ff8000', '#000000'), { scale: 1 })), PNG_GREY, 'grey once flattened');
});

test('encodePng writes grey or RGB as the pixels need, and checks its input', () => {
  const grey = PNG.sync.read(encodePng({ data: Uint8Array.from([0, 0, 0, 255, 9, 9, 9, 255]), width: 2, height: 1, channels: 4 }));
  assert.deepEqual([...grey.data], [0, 0, 0, 255, 9, 9, 9, 255]);
  const rgb = encodePng({ data: Uint8Array.from([1, 2, 3, 4, 4, 4]), width: 1, height: 2, channels: 3 });
  assert.equal(colourType(rgb), PNG_RGB);
  assert.deepEqual([...PNG.sync.read(rgb).data], [1, 2, 3, 255, 4, 4, 4, 255]);
  assert.equal(colourType(encodePng({ data: Uint8Array.from([5, 5, 5]), width: 1, height: 1, channels: 3 })), PNG_GREY);
  // Straight alpha (a decoded PNG): 0 at α = 0 becomes white, 200 at α = 51 becomes 204 + 40.
  const straight = PNG.sync.read(encodePng({ data: Uint8Array.from([0, 0, 0, 0, 200, 200, 200, 51]), width: 2, height: 1, channels: 4 }));
  assert.deepEqual([...straight.data], [255, 255, 255, 255, 244, 244, 244, 255]);
  assert.throws(() => encodePng({ data: new Uint8Array(5), width: 2, height: 1, channels: 3 }),
    /expected 2×1×3 = 6 bytes of pixels, got 5/);
  assert.throws(() => encodePng({ data: new Uint8Array(0), width: 0, height: 1, channels: 1 }), /PNG size must be integers >= 1, got 0×1/);
  assert.throws(() => encodePng({ data: new Uint8Array(2), width: 1, height: 1, channels: 2 as 1 }), /channels must be 1, 3 or 4, got 2/);
});
