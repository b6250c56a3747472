/**
 * Words for pictures: the captions of digit sequences ('7 − 3 = 4',
 * 'predicted 4 (99.6%)') and the plain-text stand-in of an SVG picture, which
 * a notebook saves next to its PNG for readers without images; and durations
 * as every table, chart and program writes them.
 */

/** A number as text with a true minus sign (−), which reads better than '-' in captions. */
export function formatSigned(value: number): string {
  return value < 0 ? `\u2212${-value}` : String(value);
}

/**
 * The caption of a sequence and the value its class stands for:
 * '7 − 3 = 4' for the difference, '7 + 3 = 10' for the sum, and
 * 'name(7, 3) = v' for any other task.
 */
export function describeSequence(digits: readonly number[], value: number, taskName: string): string {
  if (taskName === 'difference') return `${digits.join(' \u2212 ')} = ${formatSigned(value)}`;
  if (taskName === 'sum') return `${digits.join(' + ')} = ${formatSigned(value)}`;
  return `${taskName}(${digits.join(', ')}) = ${formatSigned(value)}`;
}

/** A probability as a percentage that never rounds up to a certain 100%: '51%', '99.6%', '>99.9%'. */
export function formatProbability(p: number): string {
  if (p >= 0.999 && p < 1) return '>99.9%';
  return `${(p * 100).toFixed(p >= 0.99 && p < 1 ? 1 : 0)}%`;
}

/**
 * A text stand-in for an SVG picture: for a Vega chart its title, subtitle and
 * axis titles; otherwise the text of all its <text> elements. Parts are joined
 * by ' · ' and cut at `maxLength` characters.
 */
export function svgText(svg: string, maxLength = 600): string {
  const unescape = (t: string) => t.replace(/&(lt|gt|quot|#39|amp);/g, (_, e: string) =>
    ({ lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&' })[e]!);
  const texts = (fragment: string) =>
    [...fragment.matchAll(/<text\b[^>]*>([^<]*)<\/text>/g)].map((m) => unescape(m[1]).trim()).filter(Boolean);
  // Vega groups text marks by role; the headings say what a chart shows, its tick labels do not.
  const roles = ['title-text', 'title-subtitle', 'axis-title'];
  const headings = roles.flatMap((role) =>
    [...svg.matchAll(new RegExp(`<g class="mark-text role-${role}"[^>]*>(.*?)</g>`, 'gs'))].flatMap((m) => texts(m[1])));
  const text = (headings.length > 0 ? headings : texts(svg)).join(' · ');
  return text.length <= maxLength ? text : `${text.slice(0, maxLength - 1)}…`;
}

/** Seconds as `42.0 s`, `3m 54s` or `2h 05m`; `–` for no time (not a finite number). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '–';
  // Below 59.95 s, since toFixed(1) would round what is above it up to `60.0 s`.
  if (seconds < 59.95) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
