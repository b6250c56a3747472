/**
 * PNG in the fewest channels a picture needs, and SVG to PNG.
 *
 * Notebooks commit their pictures, so their size is the repository's size.
 * resvg writes RGBA, though every picture here is drawn on white and every
 * pixel is opaque: the alpha channel is a quarter of the pixels and carries
 * nothing. `encodePng` writes 8-bit grey when the picture has no colour
 * (digit grids, grey charts) and RGB otherwise: re-encoded so, the 29
 * pictures the notebooks held when this was written shrink from 1.68 MB to
 * 1.08 MB, the grids of digits to 40% of their size. zlib's default strategy,
 * not pngjs's run-length one, is what lets the RGB output beat resvg's RGBA.
 */
import { PNG } from 'pngjs';

/** Width and height of an image in pixels. */
export interface ImageSize {
  width: number;
  height: number;
}

/** Pixels, row-major, `channels` bytes each. */
export interface Pixels extends ImageSize {
  /** [height × width × channels] bytes. */
  data: Uint8Array;
  /** 1: grey; 3: RGB; 4: RGBA. */
  channels: 1 | 3 | 4;
  /**
   * RGBA only: colours already multiplied by their alpha, as resvg renders
   * them (default false: straight alpha, as a decoded PNG has it).
   */
  premultiplied?: boolean;
}

/** PNG colour types (the IHDR byte) that `encodePng` writes. */
export const PNG_GREY = 0;
export const PNG_RGB = 2;

/**
 * How rows are compressed. Measured on the committed notebook pictures:
 * zlib's default strategy is 25% smaller than pngjs's default (run-length,
 * which loses to resvg's RGBA); the Up filter on every row is within 4% of
 * pngjs's per-row choice of filter at level 9, in a sixth of the time.
 */
const DEFLATE_OPTIONS = { deflateLevel: 6, deflateStrategy: 0, filterType: 2 } as const;

function checkPixels({ data, width, height, channels }: Pixels): void {
  if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) {
    throw new Error(`PNG size must be integers >= 1, got ${width}×${height}`);
  }
  if (channels !== 1 && channels !== 3 && channels !== 4) throw new Error(`channels must be 1, 3 or 4, got ${String(channels)}`);
  if (!(data instanceof Uint8Array) || data.length !== width * height * channels) {
    throw new Error(`expected ${width}×${height}×${channels} = ${width * height * channels} bytes of pixels, ` +
      `got ${data instanceof Uint8Array ? data.length : Object.prototype.toString.call(data)}`);
  }
}

/**
 * RGB pixels of `pixels`: RGBA is flattened onto white (a no-op on opaque
 * pixels, which is all of them in pictures drawn on a white background).
 */
function toRgb(pixels: Pixels): Uint8Array {
  const { data, channels } = pixels;
  const n = pixels.width * pixels.height;
  if (channels === 3) return data;
  const rgb = Buffer.allocUnsafe(n * 3);
  if (channels === 1) {
    for (let i = 0, o = 0; i < n; i++, o += 3) rgb[o] = rgb[o + 1] = rgb[o + 2] = data[i];
    return rgb;
  }
  const premultiplied = pixels.premultiplied === true;
  for (let i = 0, p = 0, o = 0; i < n; i++, p += 4, o += 3) {
    const a = data[p + 3];
    if (a === 255) {
      rgb[o] = data[p]; rgb[o + 1] = data[p + 1]; rgb[o + 2] = data[p + 2];
    } else {
      // Over white: colour × alpha + white × (1 − alpha); premultiplied colours already hold the first term.
      const paper = 255 - a;
      for (let c = 0; c < 3; c++) rgb[o + c] = paper + (premultiplied ? data[p + c] : Math.round(data[p + c] * a / 255));
    }
  }
  return rgb;
}

/** True when every pixel of `rgb` is grey (red = green = blue). */
function isGrey(rgb: Uint8Array): boolean {
  for (let o = 0; o < rgb.length; o += 3) {
    if (rgb[o] !== rgb[o + 1] || rgb[o] !== rgb[o + 2]) return false;
  }
  return true;
}

/**
 * Encodes pixels as a PNG in the fewest channels that keep them: 8-bit grey
 * (colour type 0) when every pixel is grey, otherwise RGB (colour type 2).
 * Transparency is flattened onto white: every picture of the project is drawn
 * on white, so an opaque picture is unchanged and a PNG never carries alpha.
 * About 10 ms per megapixel to inspect, plus zlib's time.
 * @throws Error on a bad size, channel count or number of bytes.
 */
export function encodePng(pixels: Pixels): Buffer {
  checkPixels(pixels);
  const { width, height } = pixels;
  let data: Uint8Array;
  let colorType: typeof PNG_GREY | typeof PNG_RGB;
  if (pixels.channels === 1) {
    data = pixels.data;
    colorType = PNG_GREY;
  } else {
    const rgb = toRgb(pixels);
    if (isGrey(rgb)) {
      const n = width * height;
      data = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) data[i] = rgb[i * 3];
      colorType = PNG_GREY;
    } else {
      data = rgb;
      colorType = PNG_RGB;
    }
  }
  const png = new PNG({ width, height });
  png.data = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return PNG.sync.write(png, { ...DEFLATE_OPTIONS, colorType, inputColorType: colorType, inputHasAlpha: false });
}

// ---------------------------------------------------------------------------
// SVG → PNG

export interface SvgToPngOptions {
  /** Output pixels per SVG pixel (default 2: sharp on high-density screens). */
  scale?: number;
}

/**
 * The font text is drawn with. Vega writes font-family "sans-serif", which
 * resvg maps to this family; where it is not installed resvg falls back to
 * the first system font it finds.
 */
export const RASTER_FONT = 'DejaVu Sans';

/** Largest `scale` accepted: beyond it a chart becomes a memory problem, not a sharper picture. */
const MAX_SCALE = 8;

interface ResvgModule {
  Resvg: new (svg: string, options: object) => {
    /** `pixels`: RGBA, premultiplied by alpha (tiny-skia's pixmap). */
    render(): { pixels: Buffer; width: number; height: number };
  };
}

/**
 * Rasterises an SVG document to PNG with resvg (native, no browser; about
 * 40 ms for a chart, and as much again to encode it). Embedded images (the
 * digits of `labelledGridSvg`) are scaled nearest-neighbour, so pixels stay
 * square. The PNG is grey or RGB as the picture needs (see `encodePng`).
 * @param svg an SVG document, starting with `<svg` (or an XML declaration).
 * @returns PNG bytes of (scale × SVG width) × (scale × SVG height) pixels.
 * @throws Error on a string that is not SVG, a bad scale, or an SVG resvg cannot parse.
 */
export function svgToPng(svg: string, options: SvgToPngOptions = {}): Buffer {
  const { scale = 2 } = options;
  if (typeof svg !== 'string' || !/^\s*(<\?xml[^>]*>\s*)?<svg[\s>]/.test(svg)) {
    throw new Error(`svgToPng needs an SVG document string starting with <svg, got ${JSON.stringify(String(svg).slice(0, 40))}`);
  }
  if (typeof scale !== 'number' || !(scale > 0 && scale <= MAX_SCALE)) {
    throw new Error(`scale must be a number in (0, ${MAX_SCALE}], got ${scale}`);
  }
  // Loaded on first use: a native module that training never needs.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Resvg } = require('@resvg/resvg-js') as ResvgModule;
  let renderer;
  try {
    renderer = new Resvg(svg, {
      fitTo: { mode: 'zoom', value: scale },
      font: { loadSystemFonts: true, defaultFontFamily: RASTER_FONT, sansSerifFamily: RASTER_FONT },
      imageRendering: 1, // optimizeSpeed: nearest-neighbour for the embedded digit images
      logLevel: 'error',
    });
  } catch (err) {
    throw new Error(`svgToPng cannot parse the SVG: ${err instanceof Error ? err.message : String(err)}`);
  }
  const image = renderer.render();
  return encodePng({ data: image.pixels, width: image.width, height: image.height, channels: 4, premultiplied: true });
}

/**
 * The size of a PNG, read from its header.
 * @throws Error when `png` does not start with the PNG signature and an IHDR chunk.
 */
export function pngSize(png: Uint8Array): ImageSize {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  const ihdr = [0x49, 0x48, 0x44, 0x52];
  if (!(png instanceof Uint8Array) || png.length < 24 || !signature.every((b, i) => png[i] === b) ||
      !ihdr.every((b, i) => png[12 + i] === b)) {
    throw new Error('pngSize needs PNG bytes (starting with \\x89PNG and an IHDR chunk)');
  }
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}
