import type { Display, ImageOutputOptions } from '../../lib/view/notebook';

/** One output a recording Display received. */
export interface Recorded { type: string; value: string | Uint8Array; options?: ImageOutputOptions }

/** A Display that records what would be shown, for tests outside the tslab kernel. */
export function recorder(): Display & { outputs: Recorded[] } {
  const outputs: Recorded[] = [];
  return {
    outputs,
    png: (b, options) => outputs.push({ type: 'png', value: b, options }),
    text: (s) => outputs.push({ type: 'text', value: s }),
    markdown: (s) => outputs.push({ type: 'markdown', value: s }),
  };
}
