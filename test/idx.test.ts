import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { MAX_IDX_DATA_BYTES, isGzip, parseIdx, readIdxFile } from '../lib/data/idx';
import { encodeIdx, makeTempDir, removeDir, writeFile } from './helpers/idx-fixtures';

const dir = makeTempDir();
after(() => removeDir(dir));

const imageBytes = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => (i * 11) % 256);

test('parses a raw IDX labels file into its dimensions and bytes', () => {
  const parsed = parseIdx(encodeIdx([5], [3, 1, 4, 1, 5]), 'labels');
  assert.deepEqual(parsed.dims, [5]);
  assert.deepEqual([...parsed.data], [3, 1, 4, 1, 5]);
});

test('parses a gzipped IDX images file to the same result as the raw file', () => {
  const raw = encodeIdx([2, 3, 4], imageBytes);
  const gz = zlib.gzipSync(raw);
  assert.ok(isGzip(gz) && !isGzip(raw));
  const fromRaw = parseIdx(raw, 'raw');
  const fromGz = parseIdx(gz, 'gz');
  assert.deepEqual(fromGz.dims, [2, 3, 4]);
  assert.deepEqual(fromGz.dims, fromRaw.dims);
  assert.deepEqual([...fromGz.data], [...imageBytes]);
  assert.deepEqual([...fromRaw.data], [...imageBytes]);
});

test('reads files from disk and detects gzip from the content, not the file name', () => {
  const plain = writeFile(dir, 'images-plain', encodeIdx([2, 3, 4], imageBytes));
  const gzNoSuffix = writeFile(dir, 'images-compressed', encodeIdx([2, 3, 4], imageBytes), true);
  for (const file of [plain, gzNoSuffix]) {
    const parsed = readIdxFile(file);
    assert.deepEqual(parsed.dims, [2, 3, 4]);
    assert.deepEqual([...parsed.data], [...imageBytes]);
  }
});

test('rejects a wrong magic number, naming the file and the magic found', () => {
  const bad = Buffer.from([0x12, 0x34, 0x08, 0x01, 0, 0, 0, 1, 7]);
  assert.throws(() => parseIdx(bad, 'bad.idx'), /bad\.idx: not an IDX file: magic number 0x12340801/);
  const zeroDims = Buffer.from([0, 0, 0x08, 0x00]);
  assert.throws(() => parseIdx(zeroDims, 'nodims.idx'), /nodims\.idx: not an IDX file: magic number 0x00000800/);
  const unknownType = Buffer.from([0, 0, 0x42, 0x01, 0, 0, 0, 0]);
  assert.throws(() => parseIdx(unknownType, 'type.idx'), /type\.idx: not an IDX file: magic number 0x00004201/);
});

test('rejects a file too short to hold a magic number', () => {
  assert.throws(() => parseIdx(Buffer.from([0, 0]), 'tiny.idx'), /tiny\.idx: not an IDX file: only 2 bytes/);
});

test('rejects IDX value types other than unsigned bytes, naming the type', () => {
  const floats = encodeIdx([1], [0, 0, 0, 0], 0x0d);
  assert.throws(() => parseIdx(floats, 'floats.idx'), /floats\.idx: unsupported IDX value type 0x0d \(float32\)/);
});

test('rejects a truncated file, saying how many bytes the dimensions need', () => {
  const full = encodeIdx([2, 3, 4], imageBytes);
  const cut = full.subarray(0, full.length - 5);
  assert.throws(() => parseIdx(cut, 'cut.idx'), /cut\.idx: truncated IDX file: dimensions \[2, 3, 4\] need 24 bytes of data, the file has 19/);
  const cutGz = writeFile(dir, 'cut.gz', cut, true);
  assert.throws(() => readIdxFile(cutGz), /cut\.gz: truncated IDX file/);
});

test('rejects a truncated header', () => {
  const header = Buffer.from([0, 0, 0x08, 0x03, 0, 0, 0, 2, 0, 0]);
  assert.throws(() => parseIdx(header, 'head.idx'), /head\.idx: truncated IDX header: 3 dimensions need 16 bytes, the file has 10/);
});

test('rejects trailing bytes after the data', () => {
  const padded = Buffer.concat([encodeIdx([3], [1, 2, 3]), Buffer.from([9, 9])]);
  assert.throws(() => parseIdx(padded, 'padded.idx'), /padded\.idx: 2 unexpected trailing bytes after the 3 bytes of data/);
  assert.throws(() => parseIdx(zlib.gzipSync(padded), 'padded.gz'), /padded\.gz: 2 unexpected trailing bytes/);
});

test('rejects a corrupt gzip stream', () => {
  const gz = zlib.gzipSync(encodeIdx([3], [1, 2, 3]));
  const corrupt = Buffer.from(gz);
  corrupt.fill(0xff, 10, gz.length - 4);
  assert.throws(() => parseIdx(corrupt, 'corrupt.gz'), /corrupt\.gz: gzip-compressed but could not be decompressed/);
  const cut = gz.subarray(0, gz.length - 6);
  assert.throws(
    () => parseIdx(cut, 'cut.gz'),
    /cut\.gz: gzip-compressed but could not be decompressed \(unexpected end of file\)/,
  );
  const magicOnly = Buffer.from([0x1f, 0x8b]);
  assert.throws(() => parseIdx(magicOnly, 'magic.gz'), /magic\.gz: gzip-compressed but could not be decompressed/);
});

test('rejects a gzip bomb that is not IDX by its magic number, before decompressing the rest', () => {
  const zeros = zlib.gzipSync(Buffer.alloc(16 << 20), { level: 9 });
  assert.throws(() => parseIdx(zeros, 'zeros.gz'), /zeros\.gz: not an IDX file: magic number 0x00000000/);
  // A corrupt tail would fail decompression; the bad header is reported first.
  const badHead = zlib.gzipSync(Buffer.concat([Buffer.from([0x12, 0x34, 0x08, 0x01]), randomBytes(8192)]));
  badHead.fill(0xff, badHead.length - 200, badHead.length - 4);
  assert.throws(() => zlib.gunzipSync(badHead));
  assert.throws(() => parseIdx(badHead, 'bad.gz'), /bad\.gz: not an IDX file: magic number 0x12340801/);
});

test('rejects a gzipped file that decompresses to far more than its header declares', () => {
  const bomb = Buffer.concat([encodeIdx([3], [1, 2, 3]), Buffer.alloc(1 << 20)]);
  const file = writeFile(dir, 'labels-bomb.gz', bomb, true);
  assert.throws(
    () => readIdxFile(file),
    /labels-bomb\.gz: decompresses to more than the 11 bytes its header declares \(\[3\]\) — corrupt or not an IDX file/,
  );
});

test('finds the header after a long stretch of gzip members that decompress to nothing', () => {
  const nothing = Buffer.concat(Array<Buffer>(20000).fill(zlib.gzipSync(Buffer.alloc(0))));
  const labels = encodeIdx([3], [1, 2, 3]);
  const parsed = parseIdx(Buffer.concat([nothing, zlib.gzipSync(labels)]), 'late.gz');
  assert.deepEqual([...parsed.data], [1, 2, 3]);
  // Doubling the input read for the header past the empty members takes in the whole bomb,
  // megabytes of output: the reader must back off to find the header, then stop at its size.
  const bomb = zlib.gzipSync(Buffer.concat([labels, Buffer.alloc(8 << 20)]));
  assert.throws(
    () => parseIdx(Buffer.concat([nothing, bomb]), 'late-bomb.gz'),
    /late-bomb\.gz: decompresses to more than the 11 bytes its header declares \(\[3\]\)/,
  );
});

test('rejects a header declaring more data than the size limit, raw or gzipped', () => {
  const huge = encodeIdx([65536, 65536], []);
  assert.ok(65536 * 65536 > MAX_IDX_DATA_BYTES);
  const message =
    /huge: dimensions \[65536, 65536\] declare 4294967296 bytes of data, more than the 1073741824 \(1 GiB\) accepted/;
  assert.throws(() => parseIdx(huge, 'huge'), message);
  assert.throws(() => parseIdx(zlib.gzipSync(huge), 'huge'), message);
});

test('rejects a gzipped file whose header declares more than its compressed size can hold, before decompressing it', () => {
  // Just under the 1 GiB cap, with a thousand bytes of data: at most 1032 times its size can come out.
  const gz = zlib.gzipSync(Buffer.concat([encodeIdx([1_300_000, 28, 28], []), Buffer.alloc(1000)]));
  assert.throws(() => parseIdx(gz, 'short.gz'), new RegExp(`^Error: short\\.gz: truncated IDX file: dimensions ` +
    `\\[1300000, 28, 28\\] need 1019200000 bytes of data, more than its ${gz.length} gzipped bytes can hold ` +
    '\\(at most 1032 times as many\\)$'));
});

test('reports a missing file with its path', () => {
  const missing = path.join(dir, 'no-such-file-idx1-ubyte');
  assert.throws(() => readIdxFile(missing), new RegExp(`IDX file not found: ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.throws(() => readIdxFile(dir), /expected an IDX file but found a directory/);
});
