import {
  bf16BitsToF32,
  decodeHalf,
  encodeHalf,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  roundTo,
} from "../../core/dtype.ts";
import { assert, assertEquals } from "../_assert.ts";
import { test } from "../_harness.ts";

const hex = (n: number): string => "0x" + n.toString(16).padStart(4, "0");

test("f16: known bit patterns, round to nearest even", () => {
  const cases: [number, number][] = [
    [1, 0x3c00],
    [-2, 0xc000],
    [0.1, 0x2e66],
    [65504, 0x7bff], // largest finite
    [65519, 0x7bff], // below the halfway point to 65536
    [65520, 0x7c00], // halfway: ties to even overflows to +Inf
    [1e6, 0x7c00],
    [-1e6, 0xfc00],
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [1023 * 2 ** -24, 0x03ff], // largest subnormal
    [2 ** -25, 0x0000], // halfway to the smallest subnormal: ties to even gives zero
    [3 * 2 ** -26, 0x0001], // 0.75 of the smallest subnormal rounds up
    [3 * 2 ** -25, 0x0002], // 1.5 units: ties to even gives 2
    [1 + 2 ** -11, 0x3c00], // halfway between 1 and the next: stays even
    [1 + 3 * 2 ** -11, 0x3c02], // halfway, odd below: rounds up to even
    [0, 0x0000],
    [-0, 0x8000],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
  ];
  for (const [x, bits] of cases) assertEquals(hex(f32ToF16Bits(x)), hex(bits), `f16(${x})`);
  const nan = f32ToF16Bits(NaN);
  assert((nan & 0x7c00) === 0x7c00 && (nan & 0x03ff) !== 0, `NaN must stay NaN, got ${hex(nan)}`);
});

test("f16: decoding is exact, including subnormals and specials", () => {
  assertEquals(f16BitsToF32(0x3c00), 1);
  assertEquals(f16BitsToF32(0x0001), 2 ** -24);
  assertEquals(f16BitsToF32(0x03ff), 1023 * 2 ** -24);
  assertEquals(f16BitsToF32(0x7bff), 65504);
  assertEquals(f16BitsToF32(0xc000), -2);
  assert(Object.is(f16BitsToF32(0x8000), -0), "negative zero");
  assertEquals(f16BitsToF32(0x7c00), Infinity);
  assertEquals(f16BitsToF32(0xfc00), -Infinity);
  assert(Number.isNaN(f16BitsToF32(0x7e00)), "NaN");
  // every finite pattern round-trips
  for (let h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) === 0x7c00) continue;
    const back = f32ToF16Bits(f16BitsToF32(h));
    if (back !== h) throw new Error(`round trip ${hex(h)} -> ${hex(back)}`);
  }
});

test("bf16: known bit patterns, round to nearest even", () => {
  const cases: [number, number][] = [
    [1, 0x3f80],
    [-1, 0xbf80],
    [Math.PI, 0x4049],
    [1 + 2 ** -8, 0x3f80], // halfway, even below: stays
    [1 + 3 * 2 ** -8, 0x3f82], // halfway, odd below: rounds up
    [1 + 2 ** -8 + 2 ** -20, 0x3f81], // just over halfway
    [3.4028234663852886e38, 0x7f80], // f32 max rounds to +Inf
    [1e-40, 0x0001], // f32 subnormal
    [Infinity, 0x7f80],
    [-Infinity, 0xff80],
    [-0, 0x8000],
  ];
  for (const [x, bits] of cases) assertEquals(hex(f32ToBf16Bits(x)), hex(bits), `bf16(${x})`);
  const nan = f32ToBf16Bits(NaN);
  assert((nan & 0x7f80) === 0x7f80 && (nan & 0x007f) !== 0, `NaN must stay NaN, got ${hex(nan)}`);
  // a NaN whose payload sits only in the low 16 bits must not become Inf
  const lowPayloadNaN = new Float32Array(new Uint32Array([0x7f800001]).buffer)[0];
  assert((f32ToBf16Bits(lowPayloadNaN) & 0x007f) !== 0, "low-payload NaN must stay NaN");
});

test("bf16: decoding, bulk encode/decode agree with scalar versions", () => {
  assertEquals(bf16BitsToF32(0x3f80), 1);
  assertEquals(bf16BitsToF32(0x0001), 2 ** -133);
  assertEquals(bf16BitsToF32(0xff80), -Infinity);
  const values = [0, 1, -1.5, 3.14159, 1e-40, -65504.7, 1e30, Infinity, -Infinity, NaN];
  for (const dtype of ["f16", "bf16"] as const) {
    const bits = encodeHalf(dtype, values);
    const decoded = decodeHalf(dtype, bits);
    for (let i = 0; i < values.length; i++) {
      const expected = roundTo(dtype, values[i]);
      assert(
        Object.is(decoded[i], expected) || (Number.isNaN(expected) && Number.isNaN(decoded[i])),
        `${dtype} ${values[i]}: ${decoded[i]} vs ${expected}`,
      );
    }
  }
});
