import { after } from 'node:test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * A maker of temporary folders for one test file: each call creates
 * `crnn-PREFIX-XXXXXX` in the system's temporary folder, and all of them are
 * removed when the file's tests end. Call it at the top level of the file.
 */
export function tempFolders(prefix: string): () => string {
  const made: string[] = [];
  after(() => {
    for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `crnn-${prefix}-`));
    made.push(dir);
    return dir;
  };
}
