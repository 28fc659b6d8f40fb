/**
 * Safetensors checkpoints: read (whole buffer or file, header first), write, inspect metadata.
 *
 * Loaded dtypes: F32, F16, BF16 and I32 are taken bit for bit; BOOL, U8, I8, I16 and U16 widen
 * to i32; I64, U32 and U64 become i32 when every value fits (token ids, positions), otherwise a
 * CheckpointError names the tensor and the value; F64 rounds to f32; F8 types are refused.
 *
 * @module
 */
import { writeFileSync } from "node:fs";
import { CheckpointError } from "../errors.ts";
import { CpuStorage, Tensor } from "../tensor.ts";
import { decodeElements, nativeDType, requireLittleEndian, STORED_SIZE, storedDTypeOf } from "./_elements.ts";
import { openFileReader } from "./_file.ts";
import { ALIGNMENT, headerLength, parseHeader, type SafetensorsHeader } from "./_safetensors_header.ts";

/** Called as bytes of tensor data are read: `done` of `total` bytes. */
export type ProgressCallback = (done: number, total: number) => void;

/** Options of {@linkcode readSafetensors}. */
export interface ReadOptions {
  /** Reports progress after each tensor. */
  onProgress?: ProgressCallback;
}

/** Tensors to write: a Map or a plain object, name → CPU tensor. */
export type TensorDict = ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>;

/** Parses a whole safetensors file held in memory; `source` names it in errors. */
export function parseSafetensors(bytes: Uint8Array, source: string): Map<string, Tensor> {
  const length = headerLength(bytes, bytes.length, source);
  const header = parseHeader(bytes.subarray(8, 8 + length), bytes.length - 8 - length, source);
  const out = new Map<string, Tensor>();
  for (const [name, entry] of header.entries) {
    const start = header.dataStart + entry.begin;
    out.set(
      name,
      decodeElements(source, name, entry.dtype, bytes.subarray(start, header.dataStart + entry.end), entry.shape),
    );
  }
  return out;
}

function readHeader(reader: ReturnType<typeof openFileReader>): SafetensorsHeader {
  const prefix = reader.read(0, Math.min(8, reader.size));
  const length = headerLength(prefix, reader.size, reader.path);
  return parseHeader(reader.read(8, length), reader.size - 8 - length, reader.path);
}

/**
 * Reads a `.safetensors` file into CPU tensors: the header is read and validated first, then each
 * tensor's bytes straight into its storage (no whole-file buffer).
 *
 * @example
 * ```ts
 * import { readSafetensors } from "@attnzoo/zoo";
 * const weights = readSafetensors("model.safetensors");
 * weights.get("head.weight")?.shape;
 * ```
 */
export function readSafetensors(path: string, options: ReadOptions = {}): Map<string, Tensor> {
  using reader = openFileReader(path);
  const header = readHeader(reader);
  requireLittleEndian(path);
  const total = reader.size - header.dataStart;
  const out = new Map<string, Tensor>();
  try {
    for (const [name, entry] of header.entries) {
      const position = header.dataStart + entry.begin;
      const native = nativeDType(entry.dtype);
      if (native !== undefined) {
        const storage = new CpuStorage(native, (entry.end - entry.begin) / STORED_SIZE[entry.dtype]);
        reader.readInto(new Uint8Array(storage.data.buffer), position);
        out.set(name, new Tensor(storage, entry.shape));
      } else {
        const bytes = reader.read(position, entry.end - entry.begin);
        out.set(name, decodeElements(path, name, entry.dtype, bytes, entry.shape));
      }
      options.onProgress?.(entry.end, total);
    }
  } catch (err) {
    for (const t of out.values()) t.dispose();
    throw err;
  }
  return out;
}

/** The `__metadata__` strings of a `.safetensors` file (reads only the header). */
export function readSafetensorsMetadata(path: string): Record<string, string> {
  using reader = openFileReader(path);
  return readHeader(reader).metadata;
}

/**
 * Encodes CPU tensors as a safetensors file in memory. Tensors are laid out widest element first,
 * then by name, so every tensor starts aligned to its element size; the header is space-padded to
 * a multiple of 8 bytes.
 */
export function encodeSafetensors(tensors: TensorDict, metadata: Record<string, string> = {}): Uint8Array {
  const items = [...(tensors instanceof Map ? tensors : Object.entries(tensors))] as [string, Tensor][];
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== "string") {
      throw new CheckpointError("writeSafetensors", `__metadata__.${key} must be a string, got ${typeof value}`);
    }
  }
  for (const [name, t] of items) {
    if (name === "" || name === "__metadata__") {
      throw new CheckpointError("writeSafetensors", `invalid tensor name ${JSON.stringify(name)}`);
    }
    if (t.device !== "cpu") {
      throw new CheckpointError("writeSafetensors", `tensor "${name}" lives on ${t.device}; copy it to the CPU first`);
    }
  }
  items.sort(([na, a], [nb, b]) =>
    STORED_SIZE[storedDTypeOf(b.dtype)] - STORED_SIZE[storedDTypeOf(a.dtype)] || (na < nb ? -1 : na > nb ? 1 : 0)
  );
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of items) {
    const bytes = t.hostData.byteLength;
    header[name] = { dtype: storedDTypeOf(t.dtype), shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / ALIGNMENT) * ALIGNMENT;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let position = 8 + padded;
  for (const [, t] of items) {
    const data = t.hostData;
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), position);
    position += data.byteLength;
  }
  return out;
}

/** Writes CPU tensors (and optional string metadata) to a `.safetensors` file. */
export function writeSafetensors(path: string, tensors: TensorDict, metadata: Record<string, string> = {}): void {
  requireLittleEndian(path);
  writeFileSync(path, encodeSafetensors(tensors, metadata));
}
