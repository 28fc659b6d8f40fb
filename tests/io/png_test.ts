import { deflateSync } from "node:zlib";
import { ImageError } from "../../core/errors.ts";
import { decodePng } from "../../core/io/png.ts";
import { assertEquals, assertThrows } from "../_assert.ts";
import { test } from "../_harness.ts";

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set([...type].map((c) => c.charCodeAt(0)), 4);
  out.set(data, 8);
  return out; // CRC left zero: the decoder does not need it
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Encodes raw samples with filter type `y % 5` on row y, so every filter is exercised. */
function encodePng(
  width: number,
  height: number,
  colorType: number,
  bpp: number,
  samples: Uint8Array,
  palette?: Uint8Array,
): Uint8Array {
  const stride = width * bpp;
  const raw = new Uint8Array(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const filter = y % 5;
    raw[y * (stride + 1)] = filter;
    for (let x = 0; x < stride; x++) {
      const cur = samples[y * stride + x];
      const a = x >= bpp ? samples[y * stride + x - bpp] : 0;
      const b = y > 0 ? samples[(y - 1) * stride + x] : 0;
      const c = x >= bpp && y > 0 ? samples[(y - 1) * stride + x - bpp] : 0;
      const pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][filter];
      raw[y * (stride + 1) + 1 + x] = (cur - pred) & 0xff;
    }
  }
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, width);
  new DataView(ihdr.buffer).setUint32(4, height);
  ihdr.set([8, colorType, 0, 0, 0], 8);
  const parts = [
    new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", ihdr),
    ...(palette ? [chunk("PLTE", palette)] : []),
    chunk("IDAT", new Uint8Array(deflateSync(raw))),
    chunk("IEND", new Uint8Array()),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((o, p) => (out.set(p, o), o + p.length), 0);
  return out;
}

function pattern(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 37 + seed * 101 + ((i * i) >> 3)) & 0xff);
}

test("png: RGB and RGBA with every filter type decode exactly", () => {
  const [w, h] = [7, 10];
  const rgb = pattern(w * h * 3, 1);
  const a = decodePng(encodePng(w, h, 2, 3, rgb), "rgb.png");
  assertEquals([a.width, a.height], [w, h]);
  assertEquals([...a.rgb], [...rgb]);
  const rgba = pattern(w * h * 4, 2);
  const b = decodePng(encodePng(w, h, 6, 4, rgba), "rgba.png");
  assertEquals([...b.rgb], [...rgb.map((_, i) => rgba[Math.floor(i / 3) * 4 + (i % 3)])]);
});

test("png: gray, gray+alpha and palette images expand to RGB", () => {
  const [w, h] = [5, 6];
  const gray = pattern(w * h, 3);
  assertEquals([...decodePng(encodePng(w, h, 0, 1, gray), "g.png").rgb], [...gray].flatMap((v) => [v, v, v]));
  const ga = pattern(w * h * 2, 4);
  const expectedGa = Array.from({ length: w * h }, (_, i) => [ga[2 * i], ga[2 * i], ga[2 * i]]).flat();
  assertEquals([...decodePng(encodePng(w, h, 4, 2, ga), "ga.png").rgb], expectedGa);
  const palette = pattern(4 * 3, 5);
  const idx = Uint8Array.from({ length: w * h }, (_, i) => i % 4);
  const expected = [...idx].flatMap((k) => [...palette.subarray(3 * k, 3 * k + 3)]);
  assertEquals([...decodePng(encodePng(w, h, 3, 1, idx, palette), "p.png").rgb], expected);
});

test("png: malformed files give a ImageError naming the file", () => {
  assertThrows(() => decodePng(new Uint8Array([1, 2, 3]), "x.png"), ImageError, "x.png", "signature");
  const good = encodePng(2, 2, 2, 3, pattern(12, 6));
  const truncated = good.subarray(0, good.length - 20);
  assertThrows(() => decodePng(truncated, "t.png"), ImageError, "t.png");
  const interlaced = good.slice();
  interlaced[8 + 8 + 12] = 1; // IHDR interlace byte
  assertThrows(() => decodePng(interlaced, "i.png"), ImageError, "interlaced");
});
