/**
 * Baseline JPEG decoding (sequential Huffman, 8-bit, grayscale or YCbCr with any chroma
 * subsampling, restart markers) to 8-bit RGB, for classifying images from the CLI.
 * Progressive and arithmetic-coded files are rejected with a clear error.
 *
 * @module
 */
import { ImageError } from "../errors.ts";
import type { RgbImage } from "./png.ts";

interface Huffman {
  /** code length → (code → symbol) */
  lookup: Map<number, number>[];
}

interface Component {
  id: number;
  h: number;
  v: number;
  table: number;
  dc: number;
  ac: number;
  pred: number;
  blocksPerLine: number;
  blocksPerColumn: number;
  samples: Uint8Array;
}

const ZIGZAG = Uint8Array.from([
  0,
  1,
  8,
  16,
  9,
  2,
  3,
  10,
  17,
  24,
  32,
  25,
  18,
  11,
  4,
  5,
  12,
  19,
  26,
  33,
  40,
  48,
  41,
  34,
  27,
  20,
  13,
  6,
  7,
  14,
  21,
  28,
  35,
  42,
  49,
  56,
  57,
  50,
  43,
  36,
  29,
  22,
  15,
  23,
  30,
  37,
  44,
  51,
  58,
  59,
  52,
  45,
  38,
  31,
  39,
  46,
  53,
  60,
  61,
  54,
  47,
  55,
  62,
  63,
]);

/** cos((2x+1)uπ/16)·c(u)/2, the separable IDCT basis. */
const IDCT = (() => {
  const t = new Float64Array(64);
  for (let x = 0; x < 8; x++) {
    for (let u = 0; u < 8; u++) {
      t[x * 8 + u] = (u === 0 ? Math.SQRT1_2 : 1) * Math.cos(((2 * x + 1) * u * Math.PI) / 16) / 2;
    }
  }
  return t;
})();

function buildHuffman(counts: Uint8Array, symbols: Uint8Array): Huffman {
  const lookup: Map<number, number>[] = [];
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    const table = new Map<number, number>();
    for (let i = 0; i < counts[len - 1]; i++) table.set(code++, symbols[k++]);
    lookup.push(table);
    code <<= 1;
  }
  return { lookup };
}

/** Decodes JPEG bytes; `source` names the file in errors. */
export function decodeJpeg(bytes: Uint8Array, source: string): RgbImage {
  const fail = (detail: string): never => {
    throw new ImageError(source, `not a readable JPEG: ${detail}`);
  };
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) fail("missing SOI marker");
  const quant: Float64Array[] = [];
  const dcTables: Huffman[] = [];
  const acTables: Huffman[] = [];
  let components: Component[] = [];
  let width = 0, height = 0, restartInterval = 0, maxH = 1, maxV = 1, mcusX = 0, mcusY = 0;
  let at = 2;
  const u16 = (p: number): number => (bytes[p] << 8) | bytes[p + 1];
  while (at < bytes.length) {
    if (bytes[at] !== 0xff) fail(`expected a marker at byte ${at}`);
    const marker = bytes[at + 1];
    at += 2;
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01 || marker === 0xff) continue;
    if (marker === 0xd9) break;
    const length = u16(at);
    const segment = bytes.subarray(at + 2, at + length);
    if (segment.length !== length - 2) fail("truncated segment");
    switch (marker) {
      case 0xdb: // quantisation tables
        for (let p = 0; p < segment.length;) {
          const precision = segment[p] >> 4, id = segment[p] & 15;
          const q = new Float64Array(64);
          for (let i = 0; i < 64; i++) q[ZIGZAG[i]] = precision ? u16(at + 2 + p + 1 + 2 * i) : segment[p + 1 + i];
          quant[id] = q;
          p += 1 + 64 * (precision ? 2 : 1);
        }
        break;
      case 0xc4: // Huffman tables
        for (let p = 0; p < segment.length;) {
          const cls = segment[p] >> 4, id = segment[p] & 15;
          const counts = segment.subarray(p + 1, p + 17);
          const total = counts.reduce((s, c) => s + c, 0);
          (cls === 0 ? dcTables : acTables)[id] = buildHuffman(counts, segment.subarray(p + 17, p + 17 + total));
          p += 17 + total;
        }
        break;
      case 0xc0:
      case 0xc1: {
        if (segment[0] !== 8) fail(`${segment[0]}-bit samples (8-bit only)`);
        height = u16(at + 3);
        width = u16(at + 5);
        if (width === 0 || height === 0) fail("zero-sized image");
        components = [];
        for (let i = 0; i < segment[5]; i++) {
          const b = segment.subarray(6 + 3 * i, 9 + 3 * i);
          components.push({
            id: b[0],
            h: b[1] >> 4,
            v: b[1] & 15,
            table: b[2],
            dc: 0,
            ac: 0,
            pred: 0,
            blocksPerLine: 0,
            blocksPerColumn: 0,
            samples: new Uint8Array(),
          });
        }
        maxH = Math.max(...components.map((c) => c.h));
        maxV = Math.max(...components.map((c) => c.v));
        mcusX = Math.ceil(width / (8 * maxH));
        mcusY = Math.ceil(height / (8 * maxV));
        for (const c of components) {
          c.blocksPerLine = mcusX * c.h;
          c.blocksPerColumn = mcusY * c.v;
          c.samples = new Uint8Array(c.blocksPerLine * c.blocksPerColumn * 64);
        }
        break;
      }
      case 0xc2:
      case 0xc6:
      case 0xca:
        return fail("progressive JPEG is not supported (re-save it as baseline or PNG)");
      case 0xc3:
      case 0xc5:
      case 0xc7:
      case 0xc9:
      case 0xcb:
      case 0xcd:
      case 0xce:
      case 0xcf:
        return fail("lossless, hierarchical or arithmetic-coded JPEG is not supported");
      case 0xdd:
        restartInterval = u16(at + 2);
        break;
      case 0xda: {
        if (components.length === 0) fail("scan before frame header");
        const scan: Component[] = [];
        for (let i = 0; i < segment[0]; i++) {
          const c = components.find((x) => x.id === segment[1 + 2 * i]) ?? fail("scan names an unknown component");
          c.dc = segment[2 + 2 * i] >> 4;
          c.ac = segment[2 + 2 * i] & 15;
          c.pred = 0;
          scan.push(c);
        }
        const geometry = { width, height, maxH, maxV, mcusX, mcusY, restartInterval };
        at = decodeScan(bytes, at + length, scan, geometry, quant, dcTables, acTables, fail);
        continue;
      }
    }
    at += length;
  }
  if (components.length !== 1 && components.length !== 3) fail(`${components.length} components (1 or 3 supported)`);
  return toRgb(width, height, components, maxH, maxV);
}

interface FrameGeometry {
  width: number;
  height: number;
  maxH: number;
  maxV: number;
  mcusX: number;
  mcusY: number;
  restartInterval: number;
}

function decodeScan(
  bytes: Uint8Array,
  start: number,
  scan: Component[],
  { width, height, maxH, maxV, mcusX, mcusY, restartInterval }: FrameGeometry,
  quant: Float64Array[],
  dcTables: Huffman[],
  acTables: Huffman[],
  fail: (d: string) => never,
): number {
  let pos = start, bitBuffer = 0, bitCount = 0;
  const readBit = (): number => {
    if (bitCount === 0) {
      if (pos >= bytes.length) fail("scan data is truncated");
      let byte = bytes[pos++];
      if (byte === 0xff) {
        const next = bytes[pos];
        if (next === 0) pos++;
        else {
          pos--; // a marker ends the data: stay on it and feed zeros until the scan's MCUs are done
          byte = 0;
        }
      }
      bitBuffer = byte;
      bitCount = 8;
    }
    bitCount--;
    return (bitBuffer >> bitCount) & 1;
  };
  const receive = (n: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++) v = (v << 1) | readBit();
    return v;
  };
  const extend = (v: number, n: number): number => (n === 0 ? 0 : v < 1 << (n - 1) ? v - (1 << n) + 1 : v);
  const decodeSymbol = (table: Huffman | undefined): number => {
    if (table === undefined) fail("missing Huffman table");
    let code = 0;
    for (let len = 0; len < 16; len++) {
      code = (code << 1) | readBit();
      const symbol = table!.lookup[len].get(code);
      if (symbol !== undefined) return symbol;
    }
    return fail("bad Huffman code");
  };
  const block = new Float64Array(64);
  const tmp = new Float64Array(64);
  const decodeBlock = (c: Component, row: number, col: number): void => {
    const q = quant[c.table];
    if (q === undefined) fail(`missing quantisation table ${c.table}`);
    block.fill(0);
    const t = decodeSymbol(dcTables[c.dc]);
    c.pred += extend(receive(t), t);
    block[0] = c.pred * q[0];
    for (let k = 1; k < 64;) {
      const rs = decodeSymbol(acTables[c.ac]);
      const s = rs & 15, r = rs >> 4;
      if (s === 0) {
        if (r < 15) break;
        k += 16;
        continue;
      }
      k += r;
      if (k > 63) fail("AC coefficient index out of range");
      block[ZIGZAG[k]] = extend(receive(s), s) * q[ZIGZAG[k]];
      k++;
    }
    // separable IDCT: rows then columns
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) {
        let s = 0;
        for (let u = 0; u < 8; u++) s += IDCT[x * 8 + u] * block[y * 8 + u];
        tmp[y * 8 + x] = s;
      }
    }
    const stride = c.blocksPerLine * 8;
    for (let x = 0; x < 8; x++) {
      for (let y = 0; y < 8; y++) {
        let s = 0;
        for (let v = 0; v < 8; v++) s += IDCT[y * 8 + v] * tmp[v * 8 + x];
        const value = Math.round(s + 128);
        c.samples[(row * 8 + y) * stride + col * 8 + x] = value < 0 ? 0 : value > 255 ? 255 : value;
      }
    }
  };
  const single = scan.length === 1;
  // a single-component scan is not interleaved: it covers only the blocks inside the image
  const perLine = Math.ceil(Math.ceil((width * scan[0].h) / maxH) / 8);
  const perColumn = Math.ceil(Math.ceil((height * scan[0].v) / maxV) / 8);
  const total = single ? perLine * perColumn : mcusX * mcusY;
  for (let n = 0; n < total; n++) {
    if (restartInterval > 0 && n > 0 && n % restartInterval === 0) {
      bitCount = 0;
      while (pos < bytes.length && !(bytes[pos] === 0xff && bytes[pos + 1] >= 0xd0 && bytes[pos + 1] <= 0xd7)) pos++;
      pos += 2;
      for (const c of scan) c.pred = 0;
    }
    if (single) {
      decodeBlock(scan[0], Math.floor(n / perLine), n % perLine);
      continue;
    }
    const my = Math.floor(n / mcusX), mx = n % mcusX;
    for (const c of scan) {
      for (let v = 0; v < c.v; v++) for (let h = 0; h < c.h; h++) decodeBlock(c, my * c.v + v, mx * c.h + h);
    }
  }
  // skip to the next marker
  while (
    pos < bytes.length &&
    !(bytes[pos] === 0xff && bytes[pos + 1] !== 0 && !(bytes[pos + 1] >= 0xd0 && bytes[pos + 1] <= 0xd7))
  ) pos++;
  return pos;
}

function toRgb(width: number, height: number, components: Component[], maxH: number, maxV: number): RgbImage {
  const rgb = new Uint8Array(width * height * 3);
  const sample = (c: Component, x: number, y: number): number => {
    const sx = Math.floor((x * c.h) / maxH), sy = Math.floor((y * c.v) / maxV);
    return c.samples[sy * c.blocksPerLine * 8 + sx];
  };
  const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (components.length === 1) {
        rgb.fill(sample(components[0], x, y), o, o + 3);
        continue;
      }
      const Y = sample(components[0], x, y),
        cb = sample(components[1], x, y) - 128,
        cr = sample(components[2], x, y) - 128;
      rgb[o] = clamp(Y + 1.402 * cr);
      rgb[o + 1] = clamp(Y - 0.344136 * cb - 0.714136 * cr);
      rgb[o + 2] = clamp(Y + 1.772 * cb);
    }
  }
  return { width, height, rgb };
}
