/**
 * The view: everything that shows results and nothing that computes them.
 * One file per concern:
 *
 * - `charts.ts`: Vega-Lite charts (training curves, bars, heatmaps, scatter) as specs and SVG;
 * - `images.ts`: digits as PNG, and captioned grids of digits and sequences as SVG;
 * - `png.ts`: SVG to PNG, and PNG in the fewest channels a picture needs (grey or RGB);
 * - `text.ts`: captions ('7 − 3 = 4') and the text stand-ins of pictures;
 * - `notebook.ts`: the tslab display and the `show*` functions (the only module that loads tslab);
 * - `live-chart.ts`: the training curves redrawn in place while a notebook trains;
 * - `interactive.ts`: the curves in a browser through nodeplotlib (the trainer's `--plot`);
 * - `machine.ts`: a notebook's header (machine, versions) and its count of the tensors in memory;
 * - `model-summary.ts`: a compact table of a model's layers;
 * - `tables.ts`: runs and comparisons as markdown tables, durations as text.
 *
 * The library's barrel (`lib/index.ts`) exports what this one does. Code that
 * must not load the notebook display (the command-line tools) imports the
 * file it needs, never this barrel.
 */
export {
  renderSvg, trainingCurvesSpec, trainingCurvesSvg, barChartSpec, barChartSvg, heatmapSpec, heatmapSvg,
  downsampleMean, symlogLegendValues, ARTICLE_ACCURACY, comparisonCurvesSpec, comparisonCurvesSvg,
  scatterChartSpec, scatterChartSvg,
} from './charts';
export { comparisonChartSvg } from './compare';
export { comparisonTable, formatDuration, markdownTable, runsTable } from './tables';
export type { RunsTableOptions } from './tables';
export type {
  ChartSpec, CurvePoint, TrainingCurvesOptions, BarChartOptions, HeatmapOptions, CurveGroup, ComparisonCurvesOptions,
  ScatterPoint, ScatterChartOptions,
} from './charts';
export {
  digitImage, digitImages, sequenceImages, greyPng, imageGridPng, labelledGridSvg, escapeXml,
} from './images';
export type { InkOptions, ImageGridOptions, LabelledCell, LabelledGridOptions, GreyScaleKey } from './images';
export { svgToPng, pngSize, RASTER_FONT } from './png';
export type { SvgToPngOptions, ImageSize } from './png';
export { describeSequence, formatSigned, formatProbability, svgText } from './text';
export {
  notebookDisplay, newNotebookDisplay, showSvg, showPng, showImages, showDigits, showSequences, sequenceCells,
} from './notebook';
export type {
  Display, ShowImagesOptions, ShowSequencesOptions, SequenceRecords, ImageOutputOptions, ShowSvgOptions,
} from './notebook';
export { LiveTrainingChart, summaryLine } from './live-chart';
export type { LiveTrainingChartOptions } from './live-chart';
export { interactiveTraces, openInteractive } from './interactive';
export type { PlotlyTrace } from './interactive';
export { environmentSummary, tensorCensus } from './machine';
export type { TensorCensus } from './machine';
export { layerRows, layerTable } from './model-summary';
export type { LayerRow } from './model-summary';
