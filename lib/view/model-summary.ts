/**
 * A compact table of a model's layers. tfjs's `model.summary()` prints one
 * row per layer with wide, clipped columns: 48 rows for the article's model,
 * whose two per-step CNNs repeat the same layers. Here the layers that differ
 * only in their time step (`step0_conv1`, `step1_conv1`, …) share one row.
 */
import type * as tfTypes from '@tensorflow/tfjs';

/** One row of the table: a layer, or the same layer repeated over time steps. */
export interface LayerRow {
  /** The layer's name, with `step{t}` written as `step*` when repeated. */
  name: string;
  /** The layer's class, e.g. Conv2D. */
  type: string;
  /** Output shape, batch dimension first (null). */
  outputShape: (number | null)[];
  /** Parameters of one such layer. */
  params: number;
  /** How many layers the row stands for (one per time step for per-step CNNs). */
  count: number;
}

const STEP_NAME = /^step\d+_/;

function outputShape(layer: tfTypes.layers.Layer): (number | null)[] {
  const shape = layer.outputShape;
  return Array.isArray(shape[0]) ? (shape[0]) : (shape as (number | null)[]);
}

/** The rows of the table, in the model's layer order. */
export function layerRows(model: tfTypes.LayersModel): LayerRow[] {
  const rows: LayerRow[] = [];
  const byName = new Map<string, LayerRow>();
  for (const layer of model.layers) {
    const repeated = STEP_NAME.test(layer.name);
    const name = layer.name.replace(STEP_NAME, 'step*_');
    const row: LayerRow = {
      name: repeated ? name : layer.name,
      type: layer.getClassName(),
      outputShape: outputShape(layer),
      params: layer.countParams(),
      count: 1,
    };
    const same = repeated ? byName.get(name) : undefined;
    if (same && same.type === row.type && same.params === row.params &&
        JSON.stringify(same.outputShape) === JSON.stringify(row.outputShape)) {
      same.count++;
      continue;
    }
    if (repeated) byName.set(name, row);
    rows.push(row);
  }
  return rows;
}

/**
 * The table as text, one row per layer kind, with the parameter total:
 *
 *     layer              type          output shape       params
 *     step*_conv1 ×2     Conv2D        [·, 28, 28, 16]     160 each
 *
 * A repeated row gives the parameters of each of its layers.
 */
export function layerTable(model: tfTypes.LayersModel): string {
  const rows = layerRows(model);
  const format = (n: number) => n.toLocaleString('en');
  const cells = rows.map((r) => [
    r.count > 1 ? `${r.name} ×${r.count}` : r.name,
    r.type,
    `[${r.outputShape.map((d) => (d === null ? '·' : d)).join(', ')}]`,
    format(r.params),
  ]);
  const header = ['layer', 'type', 'output shape', 'params'];
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c].length)));
  const line = (row: string[], each = false) => row
    .map((cell, c) => (c === 3 ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
    .join('  ') + (each ? ' each' : '');
  const total = model.countParams();
  const trainable = model.trainableWeights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
  return [
    line(header),
    ...cells.map((row, i) => line(row, rows[i].count > 1)),
    `total: ${format(total)} parameters` + (trainable === total ? '' : ` (${format(trainable)} trainable)`),
  ].join('\n');
}
