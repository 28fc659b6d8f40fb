/**
 * Element types and the f16/bf16 <-> f32 conversions (round to nearest even; NaN, ±Inf and
 * subnormals preserved).
 *
 * @module
 */

/** Element type of a tensor. f16 and bf16 are stored as their 16-bit patterns. */
export type DType = "f32" | "f16" | "bf16" | "i32";

/** All dtypes, for validation. */
export const DTYPES: readonly DType[] = ["f32", "f16", "bf16", "i32"];

/** Bytes per element. */
export function dtypeSize(dtype: DType): number {
  return dtype === "f16" || dtype === "bf16" ? 2 : 4;
}

/** True for f32, f16 and bf16. */
export function isFloatDType(dtype: DType): boolean {
  return dtype !== "i32";
}

const scratch = new DataView(new ArrayBuffer(4));

function f32Bits(x: number): number {
  scratch.setFloat32(0, x);
  return scratch.getUint32(0);
}

function bitsF32(bits: number): number {
  scratch.setUint32(0, bits >>> 0);
  return scratch.getFloat32(0);
}

/** Nearest bf16 pattern to `x` (rounded to f32 first), ties to even; NaN stays a quiet NaN. */
export function f32ToBf16Bits(x: number): number {
  const bits = f32Bits(x);
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0) {
    return ((bits >>> 16) | 0x0040) & 0xffff; // keep sign and payload top, force quiet
  }
  const lsb = (bits >>> 16) & 1;
  return ((bits + 0x7fff + lsb) >>> 16) & 0xffff;
}

/** The f32 value of a bf16 pattern (exact). */
export function bf16BitsToF32(h: number): number {
  return bitsF32((h & 0xffff) << 16);
}

/** Nearest f16 pattern to `x` (rounded to f32 first), ties to even, overflow to ±Inf. */
export function f32ToF16Bits(x: number): number {
  const bits = f32Bits(x);
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x007fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x0200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // subnormal f16 (or zero): shift the full significand, round to nearest even
    if (e < -10) return sign;
    mant |= 0x00800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let out = mant >>> shift;
    if (rest > half || (rest === half && (out & 1) === 1)) out += 1;
    return sign | out;
  }
  let out = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (out & 1) === 1)) out += 1; // may carry into Inf
  return sign | out;
}

/** The f32 value of an f16 pattern (exact). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x03ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Decodes 16-bit patterns of `dtype` into `out` (f32). */
export function decodeHalf(
  dtype: "f16" | "bf16",
  src: Uint16Array,
  out: Float32Array = new Float32Array(src.length),
): Float32Array {
  if (dtype === "bf16") {
    const wide = new Uint32Array(out.buffer, out.byteOffset, out.length);
    for (let i = 0; i < src.length; i++) wide[i] = src[i] << 16;
  } else {
    for (let i = 0; i < src.length; i++) out[i] = f16BitsToF32(src[i]);
  }
  return out;
}

/** Encodes f32 values as 16-bit patterns of `dtype` into `out`, rounding to nearest even. */
export function encodeHalf(
  dtype: "f16" | "bf16",
  src: ArrayLike<number>,
  out: Uint16Array = new Uint16Array(src.length),
): Uint16Array {
  const convert = dtype === "bf16" ? f32ToBf16Bits : f32ToF16Bits;
  for (let i = 0; i < src.length; i++) out[i] = convert(src[i]);
  return out;
}

/** Rounds `x` to the nearest value representable in `dtype` (identity for i32 and f32 math). */
export function roundTo(dtype: DType, x: number): number {
  switch (dtype) {
    case "f32":
      return Math.fround(x);
    case "f16":
      return f16BitsToF32(f32ToF16Bits(x));
    case "bf16":
      return bf16BitsToF32(f32ToBf16Bits(x));
    case "i32":
      return x | 0;
  }
}
