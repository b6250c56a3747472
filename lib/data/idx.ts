/**
 * Reading IDX files, the binary format MNIST and Fashion-MNIST ship in.
 *
 * An IDX file is a 4-byte magic number (two zero bytes, a type code, the
 * number of dimensions), one big-endian uint32 per dimension, then the values
 * row-major. MNIST labels are `0x00000801` (unsigned bytes, 1 dimension) and
 * MNIST images `0x00000803` (unsigned bytes, 3 dimensions). Files may be
 * gzip-compressed, as they are distributed; compression is detected from the
 * gzip magic bytes `1f 8b`, not from the file name.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';

/** The contents of an IDX file of unsigned bytes. */
export interface IdxArray {
  /** Size of each dimension, outermost first, e.g. [60000, 28, 28]. */
  dims: number[];
  /** All values row-major; its length is the product of `dims`. */
  data: Uint8Array;
}

/** IDX type codes (third magic byte); only unsigned bytes are read. */
const IDX_TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};
const IDX_UBYTE = 0x08;

function hex(value: number, digits: number): string {
  return '0x' + value.toString(16).padStart(digits, '0');
}

/** True when `buffer` starts with the gzip magic bytes 1f 8b. */
export function isGzip(buffer: Uint8Array): boolean {
  return buffer.length >= 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
}

/**
 * The most data bytes an IDX header may declare: 1 GiB, nearly twice the
 * largest file of the MNIST family (EMNIST ByClass training images, 547 MB).
 * A header declaring more is rejected before anything is allocated for it.
 */
export const MAX_IDX_DATA_BYTES = 2 ** 30;

/** The longest possible header: the magic number and 255 dimensions. */
const MAX_HEADER_BYTES = 4 + 4 * 255;

/**
 * How far a gzipped file may decompress past the size its header declares and
 * still be reported as a count of trailing bytes; past that, decompression
 * stops and the file is reported as decompressing to too much.
 */
const TRAILING_SLACK_BYTES = 64 * 1024;

/**
 * The most bytes one attempt at decompressing the start of a gzipped file may
 * produce. One input byte inflates to at most about 1 KiB, so this leaves ample
 * room above {@link MAX_HEADER_BYTES} for the search in {@link gunzipHead}.
 */
const HEAD_OUTPUT_LIMIT = 1024 * 1024;

/**
 * The most a deflate stream inflates: 258 bytes from a match coded in about
 * 2 bits, 1032:1. A gzipped file cannot decompress to more than this many
 * times its own size.
 */
const MAX_INFLATE_RATIO = 1032;

/**
 * A check of an IDX file's dimensions, run on its header before the data is
 * decompressed (loadIdxPair checks an image file's count against its labels'):
 * it throws to reject the file.
 */
export type DimsCheck = (dims: readonly number[]) => void;

/** What an IDX header says: the dimensions and where the data starts. */
interface IdxHeader {
  dims: number[];
  /** Bytes before the data: 4 + 4 · number of dimensions. */
  headerLength: number;
  /** Bytes of data the dimensions call for: their product. */
  dataLength: number;
}

/**
 * Reads and checks the header at the start of `bytes`, which need hold no more
 * than the header itself.
 * @throws Error naming the file when `bytes` is too short for the magic number
 *   or the header, the magic number is wrong, the type is not unsigned bytes, or
 *   the dimensions declare more than {@link MAX_IDX_DATA_BYTES}.
 */
function parseHeader(bytes: Uint8Array, name: string): IdxHeader {
  if (bytes.length < 4) {
    throw new Error(`${name}: not an IDX file: only ${bytes.length} bytes, too short for the 4-byte magic number`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  const typeCode = bytes[2];
  const rank = bytes[3];
  if (bytes[0] !== 0 || bytes[1] !== 0 || !(typeCode in IDX_TYPE_NAMES) || rank === 0) {
    throw new Error(
      `${name}: not an IDX file: magic number ${hex(magic, 8)} ` +
        '(expected 0x0000TTDD: two zero bytes, a type code TT, a dimension count DD ≥ 1; ' +
        'MNIST labels are 0x00000801, images 0x00000803)',
    );
  }
  if (typeCode !== IDX_UBYTE) {
    throw new Error(
      `${name}: unsupported IDX value type ${hex(typeCode, 2)} (${IDX_TYPE_NAMES[typeCode]}); ` +
        'only unsigned bytes (0x08) are supported',
    );
  }
  const headerLength = 4 + 4 * rank;
  if (bytes.length < headerLength) {
    throw new Error(
      `${name}: truncated IDX header: ${rank} dimensions need ${headerLength} bytes, the file has ${bytes.length}`,
    );
  }
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i));
  const dataLength = dims.reduce((a, b) => a * b, 1);
  if (dataLength > MAX_IDX_DATA_BYTES) {
    throw new Error(
      `${name}: dimensions [${dims.join(', ')}] declare ${dataLength} bytes of data, more than the ` +
        `${MAX_IDX_DATA_BYTES} (1 GiB) accepted — corrupt or not an IDX file`,
    );
  }
  return { dims, headerLength, dataLength };
}

function gunzipError(name: string, err: unknown): Error {
  const reason = err instanceof Error ? err.message : String(err);
  return new Error(`${name}: gzip-compressed but could not be decompressed (${reason})`);
}

function isTooLarge(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
}

/**
 * Decompresses the start of gzipped `gz`: at least `want` bytes, or everything
 * when the whole stream decompresses to fewer.
 *
 * Inflating an input prefix with Z_SYNC_FLUSH gives a prefix of the output,
 * longer for a longer input prefix. The input prefix doubles until enough comes
 * out; when a step would produce more than {@link HEAD_OUTPUT_LIMIT} (a long
 * stretch without output, then a bomb), it is bisected back instead.
 */
function gunzipHead(gz: Uint8Array, want: number, name: string): Buffer {
  let short = 0; // an input length known to give fewer than `want` bytes
  let long = Infinity; // an input length known to give too many
  let length = Math.min(gz.length, 256);
  for (;;) {
    let out: Buffer | undefined;
    try {
      out = zlib.gunzipSync(gz.subarray(0, length), {
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
        maxOutputLength: HEAD_OUTPUT_LIMIT,
      });
    } catch (err) {
      if (!isTooLarge(err)) throw gunzipError(name, err);
    }
    if (out === undefined) long = length;
    else if (out.length >= want || length === gz.length) return out;
    else short = length;
    length = long === Infinity ? Math.min(2 * length, gz.length) : Math.floor((short + long) / 2);
    // Unreachable while one input byte inflates to far less than the limit; guards the loop.
    if (length <= short) throw gunzipError(name, `one byte at ${short} inflates to over ${HEAD_OUTPUT_LIMIT} bytes`);
  }
}

/**
 * Decompresses a gzipped IDX file, checking its header first so that a file
 * that is not IDX, that declares more than its compressed size can hold, that
 * fails `checkDims`, or that decompresses to more than its header declares,
 * fails without being decompressed whole.
 */
function gunzipIdx(gz: Uint8Array, name: string, checkDims?: DimsCheck): Buffer {
  const head = gunzipHead(gz, MAX_HEADER_BYTES, name);
  // A stream shorter than its header: the checks on the result report what is wrong.
  const header = head.length >= 4 && head.length >= 4 + 4 * head[3] ? parseHeader(head, name) : undefined;
  const declared = header ? header.headerLength + header.dataLength : MAX_HEADER_BYTES;
  if (header && declared > gz.length * MAX_INFLATE_RATIO) {
    throw new Error(
      `${name}: truncated IDX file: dimensions [${header.dims.join(', ')}] need ${header.dataLength} bytes of ` +
        `data, more than its ${gz.length} gzipped bytes can hold (at most ${MAX_INFLATE_RATIO} times as many)`,
    );
  }
  if (header) checkDims?.(header.dims);
  try {
    return zlib.gunzipSync(gz, { maxOutputLength: declared + TRAILING_SLACK_BYTES });
  } catch (err) {
    if (!header || !isTooLarge(err)) throw gunzipError(name, err);
    throw new Error(
      `${name}: decompresses to more than the ${declared} bytes its header declares ` +
        `([${header.dims.join(', ')}]) — corrupt or not an IDX file`,
    );
  }
}

/**
 * Parses the bytes of an IDX file of unsigned bytes, raw or gzip-compressed.
 *
 * The returned `data` is a view on the (decompressed) buffer, not a copy. A
 * gzipped file's header is checked before the rest is decompressed, and
 * decompression stops soon after the size the header declares.
 *
 * @param buffer the file contents.
 * @param name the file's name or path, used in error messages.
 * @param checkDims a check of the dimensions, run before a gzipped file's
 *   data is decompressed; what it throws is thrown.
 * @throws Error naming the file when the magic number is wrong, the type is
 *   not unsigned bytes, the dimensions declare more than
 *   {@link MAX_IDX_DATA_BYTES}, the data is shorter than its dimensions say
 *   (truncated; for a gzipped file, found from its compressed size when it
 *   cannot hold them), or longer (trailing bytes; for a gzipped file far
 *   longer, that it decompresses to more than its header declares), or a
 *   gzipped file cannot be decompressed.
 */
export function parseIdx(buffer: Uint8Array, name: string, checkDims?: DimsCheck): IdxArray {
  const bytes = isGzip(buffer) ? gunzipIdx(buffer, name, checkDims) : buffer;
  const { dims, headerLength, dataLength: expected } = parseHeader(bytes, name);
  checkDims?.(dims);
  const actual = bytes.length - headerLength;
  if (actual < expected) {
    throw new Error(
      `${name}: truncated IDX file: dimensions [${dims.join(', ')}] need ${expected} bytes of data, ` +
        `the file has ${actual}`,
    );
  }
  if (actual > expected) {
    throw new Error(
      `${name}: ${actual - expected} unexpected trailing bytes after the ${expected} bytes of data ` +
        `for dimensions [${dims.join(', ')}]`,
    );
  }
  return { dims, data: bytes.subarray(headerLength) };
}

/**
 * Reads and parses an IDX file of unsigned bytes (raw or `.gz`); `checkDims`
 * as for {@link parseIdx}.
 * @throws Error naming the path when the file is missing or unreadable, or any
 *   error of {@link parseIdx}.
 */
export function readIdxFile(path: string, checkDims?: DimsCheck): IdxArray {
  let buffer: Buffer;
  try {
    buffer = fs.readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`IDX file not found: ${path}`);
    if (code === 'EISDIR') throw new Error(`expected an IDX file but found a directory: ${path}`);
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`cannot read IDX file ${path}: ${reason}`);
  }
  return parseIdx(buffer, path, checkDims);
}
