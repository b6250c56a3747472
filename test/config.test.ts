import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allowedValues, checkSetting, defaultCrnnConfig, defaultTrainConfig, findSetting, formatSetting,
  parseSetting, resolveCrnnConfig, resolveTrainConfig, settings, splitSettings,
  type Setting, type SettingValue,
} from '../lib/config';
import { otherValue, outOfRangeValues } from './helpers/settings';

const resolveOf = (setting: Setting) => (value: unknown) => (setting.config === 'model'
  ? resolveCrnnConfig({ [setting.name]: value })
  : resolveTrainConfig({ [setting.name]: value }));

test('every field of CrnnConfig and TrainConfig is declared once, with its default', () => {
  assert.deepEqual(settings.filter((s) => s.config === 'model').map((s) => s.name), Object.keys(defaultCrnnConfig));
  assert.deepEqual(settings.filter((s) => s.config === 'train').map((s) => s.name), Object.keys(defaultTrainConfig));
  assert.equal(new Set(settings.map((s) => s.name)).size, settings.length);
  for (const setting of settings) {
    const defaults: Record<string, unknown> = setting.config === 'model' ? defaultCrnnConfig : defaultTrainConfig;
    assert.deepEqual(defaults[setting.name], setting.default, setting.name);
    assert.ok(setting.help.length > 0, `${setting.name} has no help`);
    assert.doesNotThrow(() => checkSetting(setting, setting.default), setting.name);
  }
  assert.ok(Object.isFrozen(defaultCrnnConfig) && Object.isFrozen(defaultTrainConfig));
});

test('the default config is the article\'s and resolving fills in missing fields', () => {
  assert.deepEqual(resolveCrnnConfig(), {
    seqLength: 2, height: 28, width: 28, numClasses: 19, filters: [16, 16], kernelSize: 3, denseUnits: 256,
    cell: 'simple', hiddenSize: 256, sharedCnn: false, batchNorm: false, dropout: 0, learningRate: 1e-3, weightDecay: 0,
  });
  const resolved = resolveCrnnConfig({ cell: 'gru', filters: [8, 4] });
  assert.equal(resolved.cell, 'gru');
  assert.deepEqual(resolved.filters, [8, 4]);
  assert.equal(resolved.hiddenSize, defaultCrnnConfig.hiddenSize);
  assert.ok(Object.isFrozen(defaultCrnnConfig));
});

test('flags are the kebab-case of the names, except --steps, and the derived settings have none', () => {
  const flags = Object.fromEntries(settings.map((s) => [s.name, s.flag]));
  assert.equal(flags.numSteps, '--steps');
  assert.equal(flags.batchSize, '--batch-size');
  assert.equal(flags.sharedCnn, '--shared-cnn');
  assert.equal(flags.targetAccuracy, '--target-accuracy');
  assert.deepEqual([flags.kernelSize, flags.batchNorm, flags.dropout], ['--kernel-size', '--batch-norm', '--dropout']);
  for (const derived of ['height', 'width', 'numClasses']) assert.equal(flags[derived], null, derived);
  const given = settings.map((s) => s.flag).filter((f) => f !== null);
  assert.equal(new Set(given).size, given.length, 'two settings share a flag');
});

test('each numeric setting refuses the values just outside its declared range', () => {
  let checked = 0;
  for (const setting of settings) {
    for (const bad of outOfRangeValues(setting)) {
      const value = setting.type.kind === 'integer-pair' ? [bad, bad] : bad;
      const field = setting.type.kind === 'integer-pair' ? `${setting.name}[0]` : setting.name;
      const message = (prefix: string) =>
        new RegExp(`${prefix}${field.replace(/[[\]]/g, '\\$&')} must be .*, got ${bad}$`);
      assert.throws(() => resolveOf(setting)(value), message('\\.'), `${setting.name} = ${bad}`);
      assert.throws(() => parseSetting(setting.name, formatSetting(value)), message('Error: '),
        `parseSetting ${setting.name} ${bad}`);
      checked++;
    }
  }
  assert.ok(checked >= 12, `only ${checked} bounds checked`);
});

test('the bounds themselves are allowed where the range includes them', () => {
  assert.equal(resolveTrainConfig({ numSteps: 0 }).numSteps, 0);
  assert.equal(resolveTrainConfig({ targetAccuracy: 1 }).targetAccuracy, 1);
  assert.equal(resolveCrnnConfig({ height: 4, width: 4, numClasses: 2 }).height, 4);
  assert.equal(resolveCrnnConfig({ kernelSize: 7, dropout: 0 }).kernelSize, 7);
  assert.equal(resolveCrnnConfig({ kernelSize: 5 }).kernelSize, 5);
});

test('the layers beyond the article\'s are off by default: 3×3 kernels, no batch normalisation, no dropout', () => {
  const { kernelSize, batchNorm, dropout } = defaultCrnnConfig;
  assert.deepEqual({ kernelSize, batchNorm, dropout }, { kernelSize: 3, batchNorm: false, dropout: 0 });
  assert.equal(resolveCrnnConfig({ dropout: 0.999 }).dropout, 0.999);
  assert.throws(() => resolveCrnnConfig({ kernelSize: -3 }), /CrnnConfig\.kernelSize must be an odd integer in \[3, 7\], got -3$/);
  assert.throws(() => resolveCrnnConfig({ kernelSize: 4 }), /CrnnConfig\.kernelSize must be an odd integer in \[3, 7\], got 4$/);
});

test('the messages name the range in words', () => {
  const words = Object.fromEntries(settings.map((s) => [s.name, allowedValues(s)]));
  assert.equal(words.batchSize, 'an integer >= 1');
  assert.equal(words.seed, 'an integer');
  assert.equal(words.learningRate, 'a positive number');
  assert.equal(words.targetAccuracy, 'a number in (0, 1], or none');
  assert.equal(words.cell, 'one of simple, gru, lstm');
  assert.equal(words.sharedCnn, 'true or false');
  assert.equal(words.filters, 'two filter counts like 16,16, each an integer >= 1');
  assert.equal(words.kernelSize, 'an odd integer in [3, 7]');
  assert.equal(words.dropout, 'a number in [0, 1)');
  assert.equal(words.batchNorm, 'true or false');
});

test('parseSetting reads the text of every setting back to the value it was written from', () => {
  for (const setting of settings) {
    for (const value of [setting.default, otherValue(setting)] as SettingValue[]) {
      assert.deepEqual(parseSetting(setting.name, formatSetting(value)), value, `${setting.name} ${String(value)}`);
    }
  }
  assert.deepEqual(parseSetting('filters', '8,4'), [8, 4]);
  assert.equal(parseSetting('sharedCnn', 'false'), false);
  assert.equal(parseSetting('sharedCnn', 'true'), true);
  assert.equal(parseSetting('learningRate', '1e-3'), 0.001);
  assert.equal(parseSetting('cell', 'gru'), 'gru');
  assert.equal(parseSetting('targetAccuracy', 'none'), undefined);
  assert.equal(formatSetting(undefined), 'none');
  assert.equal(formatSetting(null), 'none', 'null, as run.json writes an unset setting');
});

test('parseSetting refuses unknown names and unreadable text, naming the setting and what it allows', () => {
  const cases: [string, string, RegExp][] = [
    ['hidenSize', '8', /Unknown setting 'hidenSize'; known settings: seqLength, .*hiddenSize/],
    ['batchSize', 'abc', /batchSize must be an integer, got "abc"$/],
    ['batchSize', '1.5', /batchSize must be an integer, got "1.5"$/],
    ['batchSize', '0', /batchSize must be an integer >= 1, got 0$/],
    ['learningRate', 'fast', /learningRate must be a number, got "fast"$/],
    ['sharedCnn', 'yes', /sharedCnn must be true or false, got "yes"$/],
    ['cell', 'rnn', /cell must be one of simple, gru, lstm, got "rnn"$/],
    ['filters', '16', /filters must be two filter counts like 16,16, got "16"$/],
    ['filters', '16,x', /filters must be two filter counts like 16,16, got "16,x"$/],
    ['targetAccuracy', 'high', /targetAccuracy must be a number \(or none\), got "high"$/],
    ['seqLength', 'none', /seqLength must be an integer, got "none"$/],
    ['kernelSize', '4', /kernelSize must be an odd integer in \[3, 7\], got 4$/],
    ['kernelSize', '9', /kernelSize must be an odd integer in \[3, 7\], got 9$/],
    ['dropout', '1', /dropout must be a number in \[0, 1\), got 1$/],
  ];
  for (const [name, text, message] of cases) {
    assert.throws(() => parseSetting(name, text), message, `${name} ${text}`);
  }
});

test('findSetting looks a setting up by name', () => {
  assert.equal(findSetting('hiddenSize')?.config, 'model');
  assert.equal(findSetting('numSteps')?.flag, '--steps');
  assert.equal(findSetting('steps'), undefined);
});

test('splitSettings splits settings by name into the task, the model\'s and training\'s, as given', () => {
  assert.deepEqual(splitSettings({ task: 'sum', seqLength: 3, numSteps: 300, filters: [8, 8], targetAccuracy: undefined }), {
    task: 'sum', model: { seqLength: 3, filters: [8, 8] }, train: { numSteps: 300 },
  });
  assert.deepEqual(splitSettings({}), { model: {}, train: {} });
});

test('splitSettings refuses an unknown name, a derived setting and a bad value, naming the setting', () => {
  assert.throws(() => splitSettings({ numStep: 3 } as never, 'overrides'),
    /Unknown setting 'numStep' in overrides; known settings: task, seqLength, filters, .*numSteps/);
  assert.throws(() => splitSettings({ numClasses: 5 }, 'overrides'),
    /overrides\.numClasses cannot be set: it follows from the data and the task/);
  assert.throws(() => splitSettings({ numSteps: -1 }, 'overrides'), /overrides\.numSteps must be an integer >= 0, got -1/);
  assert.throws(() => splitSettings({ cell: 'rnn' } as never, 'overrides'),
    /overrides\.cell must be one of simple, gru, lstm, got "rnn"/);
  assert.throws(() => splitSettings({ task: 'product' } as never, 'overrides'),
    /overrides\.task must be one of difference, sum, got "product"/);
  assert.throws(() => splitSettings(null as never, 'overrides'), /overrides must be an object of settings by name, got null/);
});
