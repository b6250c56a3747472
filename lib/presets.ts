/**
 * Named configurations. A preset supplies values for some settings of
 * lib/config.ts; anything given explicitly (a CLI flag, a notebook
 * parameter, a field passed to `presetConfigs`) takes precedence.
 *
 * - `article`: the defaults, the article's model and schedule (with the
 *   cosine learning rate).
 * - `fast`: 98% in about a minute on 2 cores: one CNN shared by both steps
 *   (each of its weights sees twice the digits per step), 800 steps of 256
 *   sequences under a one-cycle schedule peaking at 7e-3, label smoothing
 *   0.1; measured on the full 10,000 test sequences (experiments/presets).
 * - `best`: 99% on pairs: every addition of the ablation in
 *   experiments/README.md ("Toward 99%") together (batch normalisation, 5×5
 *   kernels, dropout, weight decay, shifts and rotations, label smoothing),
 *   on one shared CNN twice as wide (32 filters per layer), trained for
 *   6,000 steps under a one-cycle schedule peaking at 3e-3
 *   (experiments/presets); evaluated every 1,000 steps, which changes when
 *   the model is measured, not how it trains.
 */
import type { CrnnConfig, TrainConfig } from './types';
import {
  checkSetting, formatSetting, getSetting, resolveCrnnConfig, resolveTrainConfig, settings, type RunSettings,
  type SettingValue,
} from './config';

/** One named configuration. */
export interface Preset {
  /** One line for --help and listings. */
  readonly description: string;
  /** Setting name → value, over the defaults. */
  readonly settings: Readonly<Record<string, SettingValue>>;
}

export const presets = Object.freeze({
  article: {
    description: 'the article\'s model and schedule (the defaults)',
    settings: {},
  },
  fast: {
    description: '98% in about a minute: a shared CNN, 800 steps of 256 sequences, one-cycle schedule peaking at 7e-3, ' +
      'label smoothing 0.1; evaluated every 400 steps',
    settings: {
      sharedCnn: true, numSteps: 800, batchSize: 256, learningRate: 7e-3, lrSchedule: 'one-cycle', labelSmoothing: 0.1,
      evalEvery: 400,
    },
  },
  best: {
    description: '99% on pairs: one shared CNN of 32 filters per layer, batch normalisation, 5×5 kernels, ' +
      'dropout 0.1, weight decay 1e-4, shifts of up to 2 px, rotations of up to 10°, label smoothing 0.1, ' +
      '6,000 steps under a one-cycle schedule peaking at 3e-3; evaluated every 1,000 steps',
    settings: {
      sharedCnn: true, filters: [32, 32], kernelSize: 5, batchNorm: true, dropout: 0.1, weightDecay: 1e-4,
      augmentShift: 2, augmentRotation: 10, labelSmoothing: 0.1,
      numSteps: 6000, learningRate: 3e-3, lrSchedule: 'one-cycle', evalEvery: 1000,
    },
  },
} as const satisfies Record<string, Preset>);

export type PresetName = keyof typeof presets;

/** The presets' names, `article` first. */
export const PRESET_NAMES = Object.freeze(Object.keys(presets) as PresetName[]);

/**
 * The settings of preset `name`, split into the model's and training's, and
 * overridden by `given` where it has a defined value, its task passed on:
 * pass the result to `resolveRun` (lib/train/run.ts), or its parts to
 * `resolveCrnnConfig` and `resolveTrainConfig`. Settings by name, as a
 * notebook's `overrides`, go through `splitSettings` first:
 * `presetConfigs('fast', splitSettings({ task: 'sum', numSteps: 300 }))`.
 * @throws Error for an unknown preset, naming the known ones.
 */
export function presetConfigs(
  name: string,
  given: RunSettings = {},
): RunSettings & { model: Partial<CrnnConfig>; train: Partial<TrainConfig> } {
  if (!Object.hasOwn(presets, name)) {
    throw new Error(`Unknown preset '${name}'; presets: ${PRESET_NAMES.join(', ')}`);
  }
  const model: Record<string, unknown> = {};
  const train: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(presets[name as PresetName].settings as Record<string, SettingValue>)) {
    const setting = getSetting(key);
    checkSetting(setting, value, `preset ${name}`);
    (setting.config === 'model' ? model : train)[key] = value;
  }
  const defined = (partial: object | undefined) =>
    Object.fromEntries(Object.entries(partial ?? {}).filter(([, v]) => v !== undefined));
  return {
    ...(given.task === undefined ? {} : { task: given.task }),
    model: { ...model, ...defined(given.model) },
    train: { ...train, ...defined(given.train) },
  };
}

/**
 * The settings of a run that differ from preset `name`'s, as `name value`
 * (`['seed 1', 'numSteps 300']`), in the table's order; those that follow
 * from the data and the task are left out.
 * @throws Error for an unknown preset, naming the known ones.
 */
export function changedFromPreset(name: string, crnnConfig: CrnnConfig, trainConfig: TrainConfig): string[] {
  const base = presetConfigs(name);
  const baseConfigs = { model: resolveCrnnConfig(base.model), train: resolveTrainConfig(base.train) };
  const runConfigs = { model: crnnConfig, train: trainConfig };
  return settings.filter((s) => s.flag !== null).flatMap((s) => {
    const value = formatSetting((runConfigs[s.config] as unknown as Record<string, unknown>)[s.name]);
    const presetValue = formatSetting((baseConfigs[s.config] as unknown as Record<string, unknown>)[s.name]);
    return value === presetValue ? [] : [`${s.name} ${value}`];
  });
}

/**
 * The preset a run was trained with: the one whose every setting it has,
 * its seed and bookkeeping settings aside; undefined when none matches.
 * For `runs --group-by preset`.
 */
export function presetOf(crnnConfig: CrnnConfig, trainConfig: TrainConfig): PresetName | undefined {
  const ignored = new Set(['seed', ...settings.filter((s) => s.bookkeeping).map((s) => s.name)]);
  return PRESET_NAMES.find((name) =>
    changedFromPreset(name, crnnConfig, trainConfig).every((change) => ignored.has(change.split(' ')[0])));
}
