/**
 * Moved to `lib/view/` (see `lib/view/index.ts`). Kept only because notebook 06
 * imports `../dist/lib/charts` file by file; delete it when the notebooks import
 * the library's barrel (`../dist/lib`) alone.
 */
export * from './view/charts';
