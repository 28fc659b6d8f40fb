/**
 * PyTorch checkpoints (`torch.save` since 1.6: a zip of `<name>/data.pkl`, `<name>/data/<key>`
 * storage records and `<name>/byteorder`), read without running any pickled code: the pickle is
 * interpreted by a restricted unpickler that knows only the globals torch uses for tensors and
 * state dicts (plus argparse.Namespace, kept opaque), and refuses every other one by name —
 * numpy scalars included. Element types convert as in safetensors.ts: f32/f16/bf16/i32 exact,
 * int64/int16/int8/uint8/bool to i32 (int64 range-checked), float64 rounded to f32.
 *
 * @module
 */
import { CheckpointError } from "../errors.ts";
import type { Tensor } from "../tensor.ts";
import { decodeElements, requireLittleEndian, STORED_SIZE } from "./_elements.ts";
import { type FileReader, openFileReader } from "./_file.ts";
import { type StorageRef, TensorRef, torchPickleOptions } from "./_torch_pickle.ts";
import { PyObject, type PyValue, unpickle } from "./_unpickle.ts";
import { looksLikeZip, ZipArchive } from "./_zip.ts";
import type { ProgressCallback } from "./safetensors.ts";

/** Options of {@linkcode readTorchCheckpoint}. */
export interface TorchReadOptions {
  /**
   * Top-level key that holds the state dict (`"model"`, `"state_dict"`, `"state_dict_ema"` ...).
   * Default: the top level itself when it maps names to tensors, else `"model"`, else `"state_dict"`.
   */
  key?: string;
  /** Reports progress after each tensor: bytes of tensor data done out of the total. */
  onProgress?: ProgressCallback;
}

/** Keys tried, in order, when no key is given and the top level is not itself a state dict. */
const DEFAULT_KEYS = ["model", "state_dict"];

/** `torch.save`'s pre-1.6 format starts with a pickled magic number (protocol 2, LONG1 of 10 bytes). */
const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/**
 * Reads the state dict of a `.pth`/`.pt`/`.bin` file written by `torch.save` into contiguous CPU
 * tensors (strided views are copied out; views of one storage become separate tensors).
 *
 * @example
 * ```ts
 * import { readTorchCheckpoint } from "@attnzoo/zoo";
 * const weights = readTorchCheckpoint("agent_deit_tiny.pth", { key: "model" });
 * ```
 */
export function readTorchCheckpoint(path: string, options: TorchReadOptions = {}): Map<string, Tensor> {
  using reader = openFileReader(path);
  const archive = openArchive(reader);
  const prefix = archivePrefix(archive, path);
  if (archive.entries.has(`${prefix}byteorder`)) {
    const order = new TextDecoder().decode(archive.read(`${prefix}byteorder`)).trim();
    if (order !== "little") throw new CheckpointError(path, `byte order "${order}" is not supported`);
  }
  requireLittleEndian(path);
  const root = unpickle(archive.read(`${prefix}data.pkl`), { source: path, ...torchPickleOptions(path) });
  const refs = selectStateDict(root, options.key, path);
  return materialize(refs, archive, prefix, path, options.onProgress);
}

function openArchive(reader: FileReader): ZipArchive {
  const head = reader.read(0, Math.min(reader.size, LEGACY_MAGIC.length));
  if (LEGACY_MAGIC.every((b, i) => head[i] === b)) {
    throw new CheckpointError(
      reader.path,
      "legacy (pre-1.6) torch.save format is not supported; re-save it with torch.save's default zip format",
    );
  }
  if (!looksLikeZip(head)) throw new CheckpointError(reader.path, "not a torch.save zip archive");
  return new ZipArchive(reader);
}

/** The folder that holds data.pkl (`<name>/`), which must be unique. */
function archivePrefix(archive: ZipArchive, path: string): string {
  const pickles = [...archive.entries.keys()].filter((name) => /^([^/]+\/)?data\.pkl$/.test(name));
  if (pickles.length !== 1) {
    throw new CheckpointError(path, `expected one data.pkl in the archive, found ${pickles.length}`);
  }
  return pickles[0].slice(0, -"data.pkl".length);
}

function describe(value: PyValue): string {
  if (value instanceof TensorRef) return "a tensor";
  if (value instanceof Map) return "a dict";
  if (value instanceof PyObject) return `a ${value.className}`;
  if (Array.isArray(value)) return "a sequence";
  return value === null ? "None" : `a ${typeof value}`;
}

function isStateDict(value: PyValue): boolean {
  return value instanceof Map && value.size > 0 && [...value.values()].every((v) => v instanceof TensorRef);
}

function selectStateDict(root: PyValue, key: string | undefined, path: string): Map<string, TensorRef> {
  if (!(root instanceof Map)) throw new CheckpointError(path, `checkpoint holds ${describe(root)}, not a dict`);
  const keys = [...root.keys()].map(String);
  let chosen: PyValue;
  let where: string;
  if (key !== undefined) {
    if (!root.has(key)) {
      throw new CheckpointError(path, `no key "${key}" at the top level (keys: ${keys.join(", ")})`);
    }
    [chosen, where] = [root.get(key)!, `"${key}"`];
  } else if (isStateDict(root)) {
    [chosen, where] = [root, "top level"];
  } else {
    const found = DEFAULT_KEYS.find((k) => root.get(k) instanceof Map);
    if (found === undefined) {
      throw new CheckpointError(path, `no state dict found (top-level keys: ${keys.join(", ")}); pass { key }`);
    }
    [chosen, where] = [root.get(found)!, `"${found}"`];
  }
  if (!(chosen instanceof Map)) throw new CheckpointError(path, `${where} holds ${describe(chosen)}, not a state dict`);
  const out = new Map<string, TensorRef>();
  for (const [name, value] of chosen) {
    if (typeof name !== "string") throw new CheckpointError(path, `${where}: key ${String(name)} is not a string`);
    if (!(value instanceof TensorRef)) {
      throw new CheckpointError(path, `${where}: entry "${name}" holds ${describe(value)}, not a tensor`);
    }
    out.set(name, value);
  }
  return out;
}

/** Copies each tensor's strided window out of its storage record into a contiguous tensor. */
function materialize(
  refs: Map<string, TensorRef>,
  archive: ZipArchive,
  prefix: string,
  path: string,
  onProgress: ProgressCallback | undefined,
): Map<string, Tensor> {
  // storages shared by several tensors are read once and dropped after their last user
  const users = new Map<string, number>();
  for (const ref of refs.values()) users.set(ref.storage.key, (users.get(ref.storage.key) ?? 0) + 1);
  const loaded = new Map<string, Uint8Array>();
  const total = [...refs.values()].reduce((sum, r) => sum + numel(r.shape) * STORED_SIZE[r.storage.dtype], 0);
  let done = 0;
  const out = new Map<string, Tensor>();
  try {
    for (const [name, ref] of refs) {
      const storage = ref.storage;
      let bytes = loaded.get(storage.key);
      if (bytes === undefined) {
        bytes = readStorage(archive, prefix, storage, path);
        loaded.set(storage.key, bytes);
      }
      out.set(name, decodeElements(path, name, storage.dtype, window(ref, bytes, name, path), ref.shape));
      const left = users.get(storage.key)! - 1;
      users.set(storage.key, left);
      if (left === 0) loaded.delete(storage.key);
      done += numel(ref.shape) * STORED_SIZE[storage.dtype];
      onProgress?.(done, total);
    }
  } catch (err) {
    for (const t of out.values()) t.dispose();
    throw err;
  }
  return out;
}

function readStorage(archive: ZipArchive, prefix: string, storage: StorageRef, path: string): Uint8Array {
  const record = `${prefix}data/${storage.key}`;
  if (!archive.entries.has(record)) throw new CheckpointError(path, `storage record "${record}" is missing`);
  const bytes = archive.read(record);
  const expected = storage.numel * STORED_SIZE[storage.dtype];
  if (bytes.length !== expected) {
    throw new CheckpointError(
      path,
      `storage "${record}" has ${bytes.length} bytes, ${storage.numel} ${storage.dtype} elements need ${expected}`,
    );
  }
  return bytes;
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The bytes of `ref`'s elements in row-major order: a slice when contiguous, else a gather. */
function window(ref: TensorRef, bytes: Uint8Array, name: string, path: string): Uint8Array {
  const { shape, stride, offset } = ref;
  const size = STORED_SIZE[ref.storage.dtype];
  const count = numel(shape);
  if (count === 0) return new Uint8Array(0);
  let reach = offset;
  for (let d = 0; d < shape.length; d++) reach += (shape[d] - 1) * stride[d];
  if (reach >= ref.storage.numel) {
    throw new CheckpointError(
      path,
      `tensor "${name}": size [${shape.join(", ")}], stride [${stride.join(", ")}], offset ${offset} ` +
        `reach element ${reach} of a ${ref.storage.numel}-element storage`,
    );
  }
  let expected = 1;
  let contiguous = true;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) contiguous = false;
    expected *= shape[d];
  }
  if (contiguous) return bytes.subarray(offset * size, (offset + count) * size);
  // walk the outer dims with an odometer; copy each innermost row as a block when it is dense,
  // else word by word (an element is 1, 2 or 4 bytes, or two 4-byte words)
  const last = shape.length - 1;
  const inner = shape[last];
  const innerStride = stride[last];
  const out = new Uint8Array(count * size);
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  const wordBytes = Math.min(size, 4);
  const words = wordView(aligned, wordBytes);
  const outWords = wordView(out, wordBytes);
  const perElement = size / wordBytes;
  const index = new Array<number>(last).fill(0);
  let source = offset;
  let o = 0;
  for (let row = 0; row < count / inner; row++) {
    if (innerStride === 1) {
      outWords.set(words.subarray(source * perElement, (source + inner) * perElement), o);
      o += inner * perElement;
    } else if (perElement === 1) {
      for (let j = 0, s = source; j < inner; j++, s += innerStride) outWords[o++] = words[s];
    } else {
      for (let j = 0, s = 2 * source; j < inner; j++, s += 2 * innerStride) {
        outWords[o++] = words[s];
        outWords[o++] = words[s + 1];
      }
    }
    for (let d = last - 1; d >= 0; d--) {
      source += stride[d];
      if (++index[d] < shape[d]) break;
      source -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}

function wordView(bytes: Uint8Array, wordBytes: number): Uint8Array | Uint16Array | Uint32Array {
  const words = bytes.byteLength / wordBytes;
  if (wordBytes === 1) return bytes;
  return wordBytes === 2
    ? new Uint16Array(bytes.buffer, bytes.byteOffset, words)
    : new Uint32Array(bytes.buffer, bytes.byteOffset, words);
}
