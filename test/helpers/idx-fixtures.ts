/**
 * Tiny IDX files for tests, written to a fresh temporary folder.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { DigitSet } from '../../lib/types';

/** Encodes `data` as an IDX file with dimensions `dims` (type code 0x08 unless given). */
export function encodeIdx(dims: number[], data: Uint8Array | number[], typeCode = 0x08): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = typeCode;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}

/** A fresh temporary folder; remove it with {@link removeDir}. */
export function makeTempDir(prefix = 'crnn-idx-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Writes `bytes` to dir/name, gzipped when `gzip` is true; returns the path. */
export function writeFile(dir: string, name: string, bytes: Uint8Array, gzip = false): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, gzip ? zlib.gzipSync(bytes) : bytes);
  return file;
}

/**
 * A small DigitSet whose image i has every pixel equal to (i * 7 + pixel) % 256
 * and label `labels[i]` (default i % 10), so tests can tell images apart.
 */
export function makeDigitSet(count: number, height = 4, width = 3, labels?: number[]): DigitSet {
  const pixels = height * width;
  const images = new Uint8Array(count * pixels);
  for (let i = 0; i < count; i++) {
    for (let p = 0; p < pixels; p++) images[i * pixels + p] = (i * 7 + p) % 256;
  }
  const labelBytes = Uint8Array.from(labels ?? Array.from({ length: count }, (_, i) => i % 10));
  return { images, labels: labelBytes, count, height, width };
}

/** Writes `set` as an images file and a labels file; returns their paths. */
export function writeDigitSet(
  dir: string,
  set: DigitSet,
  prefix: 'train' | 't10k',
  gzip = false,
): { imagesPath: string; labelsPath: string } {
  const suffix = gzip ? '.gz' : '';
  return {
    imagesPath: writeFile(
      dir,
      `${prefix}-images-idx3-ubyte${suffix}`,
      encodeIdx([set.count, set.height, set.width], set.images),
      gzip,
    ),
    labelsPath: writeFile(dir, `${prefix}-labels-idx1-ubyte${suffix}`, encodeIdx([set.count], set.labels), gzip),
  };
}
