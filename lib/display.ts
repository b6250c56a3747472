/**
 * Moved to `lib/view/` (see `lib/view/index.ts`). Kept only because notebook 06
 * imports `../dist/lib/display` file by file; delete it when the notebooks import
 * the library's barrel (`../dist/lib`) alone.
 */
export * from './view/notebook';
export * from './view/text';
export * from './view/live-chart';
export * from './view/interactive';
export * from './view/machine';
