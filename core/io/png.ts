/**
 * PNG decoding (8- and 16-bit gray, gray+alpha, RGB, RGBA and palette images, not interlaced)
 * to 8-bit RGB, for classifying images from the CLI. Inflate comes from `node:zlib`, which Deno
 * and Bun both provide.
 *
 * @module
 */
import { inflateSync } from "node:zlib";
import { ImageError } from "../errors.ts";

/** A decoded image: `rgb` holds height × width × 3 bytes, row-major. */
export interface RgbImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Interleaved RGB bytes. */
  rgb: Uint8Array;
}

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Decodes PNG bytes; `source` names the file in errors. */
export function decodePng(bytes: Uint8Array, source: string): RgbImage {
  const fail = (detail: string): never => {
    throw new ImageError(source, `not a readable PNG: ${detail}`);
  };
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) fail("bad signature");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width = 0, height = 0, depth = 0, colorType = -1;
  let palette: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  for (let at = 8; at + 8 <= bytes.length;) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    const data = bytes.subarray(at + 8, at + 8 + length);
    if (data.length !== length) fail(`chunk ${type} is truncated`);
    if (type === "IHDR") {
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      depth = data[8];
      colorType = data[9];
      if (data[12] !== 0) fail("interlaced PNGs are not supported");
    } else if (type === "PLTE") palette = data;
    else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") break;
    at += 12 + length;
  }
  const channels = CHANNELS[colorType];
  if (channels === undefined) fail(`color type ${colorType}`);
  if (depth !== 8 && depth !== 16) fail(`bit depth ${depth} (8 and 16 are supported)`);
  if (colorType === 3 && (palette === undefined || depth !== 8)) fail("palette image without an 8-bit palette");
  if (width === 0 || height === 0 || width * height > 1 << 28) fail(`size ${width}×${height}`);
  const joined = new Uint8Array(idat.reduce((n, c) => n + c.length, 0));
  idat.reduce((offset, chunk) => (joined.set(chunk, offset), offset + chunk.length), 0);
  let raw: Uint8Array;
  try {
    raw = new Uint8Array(inflateSync(joined));
  } catch (err) {
    return fail(`corrupt image data (${(err as Error).message})`);
  }
  const pixelBytes = (channels * depth) / 8;
  const stride = width * pixelBytes;
  if (raw.length < height * (stride + 1)) fail("image data is truncated");
  const pixels = unfilter(raw, height, stride, pixelBytes, fail);
  const rgb = new Uint8Array(width * height * 3);
  const step = depth / 8; // 16-bit samples: keep the high byte
  for (let i = 0; i < width * height; i++) {
    const base = i * pixelBytes;
    const sample = (c: number): number => pixels[base + c * step];
    if (colorType === 3) {
      const entry = sample(0) * 3;
      rgb.set(palette!.subarray(entry, entry + 3), i * 3);
    } else if (channels <= 2) rgb.fill(sample(0), i * 3, i * 3 + 3);
    else for (let c = 0; c < 3; c++) rgb[i * 3 + c] = sample(c);
  }
  return { width, height, rgb };
}

function unfilter(
  raw: Uint8Array,
  height: number,
  stride: number,
  bpp: number,
  fail: (d: string) => never,
): Uint8Array {
  const out = new Uint8Array(height * stride);
  const left = Math.max(1, Math.floor(bpp));
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= left ? out[row + x - left] : 0;
      const b = y > 0 ? out[row - stride + x] : 0;
      const c = x >= left && y > 0 ? out[row - stride + x - left] : 0;
      let predicted: number;
      switch (filter) {
        case 0:
          predicted = 0;
          break;
        case 1:
          predicted = a;
          break;
        case 2:
          predicted = b;
          break;
        case 3:
          predicted = (a + b) >> 1;
          break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
          predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          return fail(`unknown filter ${filter} in row ${y}`);
      }
      out[row + x] = (src[x] + predicted) & 0xff;
    }
  }
  return out;
}
