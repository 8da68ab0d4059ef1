// Content-Encoding of an inspected body: gzip / deflate / br are inflated
// with a hard output cap (absolute and as a ratio of the compressed size), so
// a decompression bomb costs at most the cap; the inflater stops there.
import zlib from 'node:zlib';
import { WebBodyError } from './errors';

export type Coding = 'identity' | 'gzip' | 'deflate' | 'br';

export interface DecodeLimits {
  maxDecodedBytes: number;
  maxRatio: number;
}

/** Small bodies compress well beyond any sane ratio; below this the ratio is not applied. */
const RATIO_FLOOR = 64 * 1024;

export function codingOf(header: string | undefined): Coding {
  const v = (header ?? '').trim().toLowerCase();
  if (v === '' || v === 'identity') return 'identity';
  if (v === 'gzip' || v === 'x-gzip') return 'gzip';
  if (v === 'deflate') return 'deflate';
  if (v === 'br') return 'br';
  throw new WebBodyError('encoding', `unsupported Content-Encoding ${JSON.stringify(v.slice(0, 40))}`);
}

export function decodeBody(body: Buffer, coding: Coding, limits: DecodeLimits): Buffer {
  if (coding === 'identity') return body;
  const cap = Math.min(limits.maxDecodedBytes, Math.max(RATIO_FLOOR, body.length * limits.maxRatio));
  const opts = { maxOutputLength: cap };
  try {
    if (coding === 'gzip') return zlib.gunzipSync(body, opts);
    if (coding === 'br') return zlib.brotliDecompressSync(body, opts);
    // "deflate" is zlib-wrapped by the RFC, raw in some servers' practice.
    try {
      return zlib.inflateSync(body, opts);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw err;
      return zlib.inflateRawSync(body, opts);
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
      throw new WebBodyError('limit', `${coding} body inflates past ${cap} bytes (compressed ${body.length})`);
    }
    throw new WebBodyError('encoding', `bad ${coding} body: ${e.message}`);
  }
}

/** Re-applies the body's coding after a rewrite. */
export function encodeBody(body: Buffer, coding: Coding): Buffer {
  if (coding === 'identity') return body;
  if (coding === 'gzip') return zlib.gzipSync(body);
  if (coding === 'br') return zlib.brotliCompressSync(body);
  return zlib.deflateSync(body);
}
