// Element types as checkpoints store them, and their conversion to the four tensor dtypes.
// f32/f16/bf16/i32 are taken bit for bit; integer types widen to i32 (i64/u32/u64 with a range
// check, since token ids and counters are small in practice); f64 rounds to f32; fp8 is refused.
import type { DType } from "../dtype.ts";
import { CheckpointError } from "../errors.ts";
import { CpuStorage, Tensor } from "../tensor.ts";

/** Element types a checkpoint may declare (safetensors names; torch storages map onto them). */
export const STORED_DTYPES = [
  "BOOL",
  "U8",
  "I8",
  "I16",
  "U16",
  "I32",
  "U32",
  "I64",
  "U64",
  "F8_E4M3",
  "F8_E5M2",
  "F16",
  "BF16",
  "F32",
  "F64",
] as const;

/** One checkpoint element type. */
export type StoredDType = typeof STORED_DTYPES[number];

/** Bytes per element of each stored type. */
export const STORED_SIZE: Readonly<Record<StoredDType, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  I16: 2,
  U16: 2,
  I32: 4,
  U32: 4,
  I64: 8,
  U64: 8,
  F8_E4M3: 1,
  F8_E5M2: 1,
  F16: 2,
  BF16: 2,
  F32: 4,
  F64: 8,
};

const NATIVE: Partial<Record<StoredDType, DType>> = { F32: "f32", F16: "f16", BF16: "bf16", I32: "i32" };

/** The tensor dtype whose bytes equal the stored bytes, if any (then no conversion is needed). */
export function nativeDType(stored: StoredDType): DType | undefined {
  return NATIVE[stored];
}

/** The stored type that holds `dtype` bit for bit. */
export function storedDTypeOf(dtype: DType): StoredDType {
  return dtype === "f32" ? "F32" : dtype === "f16" ? "F16" : dtype === "bf16" ? "BF16" : "I32";
}

/** The dtype a stored type loads as; throws CheckpointError for fp8. */
export function loadedDType(stored: StoredDType, file: string, name: string): DType {
  const native = NATIVE[stored];
  if (native !== undefined) return native;
  if (stored === "F64") return "f32";
  if (stored === "F8_E4M3" || stored === "F8_E5M2") {
    throw new CheckpointError(file, `tensor "${name}": dtype ${stored} is not supported (convert to f16/bf16)`);
  }
  return "i32";
}

/** True for the little-endian hosts the byte-for-byte paths assume. */
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Fails unless the host is little-endian; checkpoints are little-endian and read bit for bit. */
export function requireLittleEndian(file: string): void {
  if (!littleEndian) throw new CheckpointError(file, "big-endian hosts are not supported");
}

/**
 * Builds a CPU tensor from `bytes`: `shape` elements of `stored`, little-endian, contiguous.
 * Integers outside i32 are a CheckpointError naming the tensor and the index.
 */
export function decodeElements(
  file: string,
  name: string,
  stored: StoredDType,
  bytes: Uint8Array,
  shape: readonly number[],
): Tensor {
  requireLittleEndian(file);
  const dtype = loadedDType(stored, file, name);
  const count = bytes.length / STORED_SIZE[stored];
  const storage = new CpuStorage(dtype, count);
  const out = storage.data;
  // slice() copies to a fresh, aligned buffer so typed views of any width are legal
  const aligned = bytes.slice().buffer;
  const tooBig = (i: number, value: string): never => {
    throw new CheckpointError(file, `tensor "${name}": ${stored} value ${value} at index ${i} does not fit i32`);
  };
  switch (stored) {
    case "F32":
    case "F16":
    case "BF16":
    case "I32":
      new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes);
      break;
    case "F64":
      out.set(new Float64Array(aligned));
      break;
    case "BOOL":
    case "U8":
      out.set(new Uint8Array(aligned));
      break;
    case "I8":
      out.set(new Int8Array(aligned));
      break;
    case "I16":
      out.set(new Int16Array(aligned));
      break;
    case "U16":
      out.set(new Uint16Array(aligned));
      break;
    case "U32": {
      const src = new Uint32Array(aligned);
      for (let i = 0; i < count; i++) {
        if (src[i] > 0x7fffffff) tooBig(i, String(src[i]));
        out[i] = src[i];
      }
      break;
    }
    case "I64":
    case "U64": {
      // halves of each 64-bit value: it fits i32 when the high word is the sign extension of the low
      const words = new Int32Array(aligned);
      for (let i = 0; i < count; i++) {
        const low = words[2 * i];
        const high = words[2 * i + 1];
        const fits = stored === "I64" ? high === low >> 31 : high === 0 && low >= 0;
        if (!fits) {
          const view = new DataView(aligned, 8 * i, 8);
          tooBig(i, String(stored === "I64" ? view.getBigInt64(0, true) : view.getBigUint64(0, true)));
        }
        out[i] = low;
      }
      break;
    }
  }
  return new Tensor(storage, shape);
}
