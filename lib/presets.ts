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
 * - `best`: every addition of the ablation in experiments/README.md ("Toward 99%")
 *   together, the configuration that beat the article's over three seeds
 *   within its 10,000 steps; evaluated every 1,000 steps, which changes
 *   when the model is measured, not how it trains.
 */
import type { CrnnConfig, TrainConfig } from './types';
import { checkSetting, getSetting, type SettingValue } from './config';

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
    description: 'the best of the ablation: batch normalisation, 5×5 kernels, dropout 0.1, weight decay 1e-4, ' +
      'shifts of up to 2 px, rotations of up to 10°, label smoothing 0.1; evaluated every 1,000 steps',
    settings: {
      kernelSize: 5, batchNorm: true, dropout: 0.1, weightDecay: 1e-4,
      augmentShift: 2, augmentRotation: 10, labelSmoothing: 0.1, evalEvery: 1000,
    },
  },
} as const satisfies Record<string, Preset>);

export type PresetName = keyof typeof presets;

/** The presets' names, `article` first. */
export const PRESET_NAMES = Object.freeze(Object.keys(presets) as PresetName[]);

/**
 * The settings of preset `name`, split into the model's and training's, and
 * overridden by `given` where it has a defined value: pass the results to
 * `resolveCrnnConfig` and `resolveTrainConfig`.
 * @throws Error for an unknown preset, naming the known ones.
 */
export function presetConfigs(
  name: string,
  given: { model?: Partial<CrnnConfig>; train?: Partial<TrainConfig> } = {},
): { model: Partial<CrnnConfig>; train: Partial<TrainConfig> } {
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
    model: { ...model, ...defined(given.model) } as Partial<CrnnConfig>,
    train: { ...train, ...defined(given.train) } as Partial<TrainConfig>,
  };
}
