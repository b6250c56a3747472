/**
 * The notebooks the browser test opens, and what each must show.
 */
import type { NotebookExpectation } from './checks';

const rawSvg = { what: 'bar chart (image/svg+xml)', source: /display\.svg\(/ };
const htmlSvg = { what: 'bar chart (SVG in an HTML img)', source: /display\.html\(/ };
const png = { what: 'gradient image (PNG)', source: /display\.png\(/ };
const finalAccuracy = { what: 'final accuracy', pattern: /Final accuracy: \d+(\.\d+)?%/ };

/** The throwaway notebooks of e2e/fixtures, which test the test itself. */
export const FIXTURES = {
  /** Run in the browser: every picture, and the environment reaches the kernel. */
  smokeRun: {
    file: 'smoke.ipynb',
    visuals: [rawSvg, htmlSvg, png],
    texts: [finalAccuracy],
    runTexts: [{ what: 'CRNN_STEPS the server was given', pattern: /steps=7\b/ }],
  },
  /**
   * Opened as committed. The notebook is not trusted (its signature is in no
   * one's database), so JupyterLab does not render its image/svg+xml output;
   * the SVG inside an HTML <img> and the PNG are shown.
   */
  smokeSaved: { file: 'smoke.ipynb', visuals: [htmlSvg, png], texts: [finalAccuracy] },
  /** The same, expecting the image/svg+xml output too: must fail. */
  smokeSavedRawSvg: { file: 'smoke.ipynb', visuals: [rawSvg], texts: [] },
  /** Its third cell throws, so Run All stops there; committed with the outputs of such a run. */
  broken: { file: 'broken.ipynb', visuals: [], texts: [] },
  /** Its second cell never finishes. */
  hang: { file: 'hang.ipynb', visuals: [], texts: [] },
} satisfies Record<string, NotebookExpectation>;

/**
 * The notebook parameters of the browser run, as TypeScript literals: before
 * Run All, a cell assigning those a notebook declares is inserted after its
 * `parameters` cell, so that it trains and evaluates on a small scale (the
 * defaults are the article's). The same values as scripts/run-notebooks.py
 * --small. runDir is added by the runner: a temporary folder, so the run
 * never replaces a model the reader trained.
 */
const SMALL_TRAINING: Record<string, string> = {
  numSteps: '40',
  batchSize: '32',
  evalEvery: '20',
  evalSize: '256',
};
export const NOTEBOOK_RUN_PARAMETERS: Record<string, string> = {
  ...SMALL_TRAINING,
  // Notebook 3 takes its settings by name, over a preset.
  overrides: `{ ${Object.entries(SMALL_TRAINING).map(([name, value]) => `${name}: ${value}`).join(', ')} }`,
};

/** The project's notebooks, in reading order, and what each must show. */
export const NOTEBOOKS: NotebookExpectation[] = [
  {
    file: '01-data-sampling.ipynb',
    visuals: [
      { what: 'grid of training digits', source: /showDigits\(/ },
      { what: 'sequence previews (4, then the whole batch)', source: /showSequences\(/, min: 2 },
      { what: 'chart of the target distribution', source: /barChartSvg\(/ },
    ],
    texts: [{ what: 'MNIST split sizes', pattern: /train: 60000 images of 28×28/ }],
  },
  {
    file: '02-the-model.ipynb',
    visuals: [{ what: 'chart of the parameters per part', source: /barChartSvg\(/ }],
    // The layer table; committed outputs older than it show tfjs's model.summary() instead.
    texts: [{ what: 'table of the layers', pattern: /total: [\d,]+ parameters|Total params: [\d,]+/ }],
    runTexts: [{ what: 'table of the layers', pattern: /step\*_dense ×2 +Dense/ }],
  },
  {
    file: '03-training.ipynb',
    visuals: [{ what: 'training curve chart', source: /new LiveTrainingChart\(/ }],
    texts: [{ what: 'final accuracy', pattern: /final accuracy on \d+ fixed test sequences: \d+(\.\d+)?%/ }],
    runTexts: [
      { what: 'small configuration in use', pattern: /after 40 steps/ },
      { what: 'final accuracy', pattern: /final accuracy on \d+ fixed test sequences: \d+(\.\d+)?%/ },
    ],
    docsScreenshot: { path: 'docs/jupyterlab-training.png', around: 'training curve chart' },
  },
  {
    file: '04-predictions.ipynb',
    visuals: [
      { what: 'grid of predictions', source: /showPredictions\(positions,/ },
      { what: 'grid of mistakes', source: /showPredictions\(shown\.map/ },
      { what: 'confusion matrix', source: /title: 'Confusion matrix'/ },
      { what: 'chart of the accuracy per answer', source: /title: `Accuracy per true \$\{task\.name\}`/ },
      { what: 'heatmap of the mistakes per digit pair', source: /title: 'Mistakes per \(first, second\) digit'/ },
      { what: 'grid of the most confident mistakes', source: /most confident mistakes/ },
    ],
    // Loose enough for committed outputs older than the current wording; the run checks it exactly.
    texts: [{ what: 'accuracy on test sequences', pattern: /accuracy on \d+ \w+ test sequences: \d+(\.\d+)?%/ }],
    runTexts: [{
      what: 'model notebook 3 trained and saved',
      pattern: /loaded the model of notebook 3 from .*: 40 steps/,
      afterRunOf: '03-training.ipynb',
    }, {
      what: 'task and T read from the run',
      pattern: /task: difference of T = 2 digits/,
      afterRunOf: '03-training.ipynb',
    }, {
      what: 'accuracy on the run\'s evaluation set',
      pattern: /accuracy on 256 fixed test sequences: \d+\.\d\d%/,
      afterRunOf: '03-training.ipynb',
    }],
  },
];
