import type { Setting, SettingValue } from '../../lib/config';

/**
 * A valid value of `setting` other than its default, chosen from the
 * setting's own type and range, so that tests cover a setting added later.
 */
export function otherValue(setting: Setting): SettingValue {
  const type = setting.type;
  switch (type.kind) {
    case 'integer': {
      const base = (setting.default as number | undefined) ?? type.min ?? 0;
      const step = type.odd === true ? 2 : 1;
      return type.max !== undefined && base + step > type.max ? base - step : base + step;
    }
    case 'number': {
      const base = setting.default as number | undefined;
      if (base === undefined) {
        return type.min !== undefined && type.max !== undefined ? (type.min + type.max) / 2 : (type.min ?? 0) + 1;
      }
      if (type.max === undefined) return base * 2 || 1;
      // Halfway to the nearer bound that differs from the default.
      const bound = type.min !== undefined && type.min !== base ? type.min : type.max;
      return (base + bound) / 2;
    }
    case 'boolean':
      return !setting.default;
    case 'choice':
      return type.choices.find((choice) => choice !== setting.default);
    case 'integer-pair':
      return (setting.default as number[]).map((n, i) => n + 1 + i);
  }
}

/**
 * An invalid value of a numeric setting, just outside its range: min − 1 for
 * an inclusive lower bound, the bound itself for an exclusive one, and the
 * same above; none for a setting without bounds.
 */
export function outOfRangeValues(setting: Setting): number[] {
  const type = setting.type;
  if (type.kind !== 'integer' && type.kind !== 'number' && type.kind !== 'integer-pair') return [];
  const step = type.kind === 'number' ? 0.5 : 1;
  const open = (side: 'min' | 'max') => type.kind === 'number' && type[`${side}Exclusive`] === true;
  const values: number[] = [];
  if (type.min !== undefined) values.push(open('min') ? type.min : type.min - step);
  if (type.max !== undefined) values.push(open('max') ? type.max : type.max + step);
  return values;
}
