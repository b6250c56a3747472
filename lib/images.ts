/**
 * Moved to `lib/view/` (see `lib/view/index.ts`). Kept only because notebook 06
 * imports `../dist/lib/images` file by file; delete it when the notebooks import
 * the library's barrel (`../dist/lib`) alone.
 */
export * from './view/images';
export { svgToPng, pngSize, RASTER_FONT } from './view/png';
export type { SvgToPngOptions, ImageSize } from './view/png';
