// A read-only zip reader for PyTorch archives: the central directory (zip64 included) is parsed
// once; entries are stored (read in place) or deflated (node:zlib, in Deno and Bun alike) and
// every entry's CRC-32 is checked. Torch writes data descriptors, so sizes come from the
// central directory, never from local headers.
import { crc32, inflateRawSync } from "node:zlib";
import { CheckpointError } from "../errors.ts";
import type { FileReader } from "./_file.ts";

/** One member of the archive. */
export interface ZipEntry {
  /** Path inside the archive. */
  readonly name: string;
  /** 0 = stored, 8 = deflate. */
  readonly method: number;
  /** Bytes in the file. */
  readonly compressedSize: number;
  /** Bytes once inflated. */
  readonly size: number;
  /** CRC-32 of the inflated bytes. */
  readonly crc: number;
  /** Offset of the local file header. */
  readonly headerOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const ZIP64_EXTRA_ID = 0x0001;
const MAX_COMMENT = 0xffff;

/** True when `prefix` starts like a zip archive (a local file header). */
export function looksLikeZip(prefix: Uint8Array): boolean {
  return prefix.length >= 4 && new DataView(prefix.buffer, prefix.byteOffset, 4).getUint32(0, true) === LOCAL_SIGNATURE;
}

/** An opened archive. */
export class ZipArchive {
  /** Entries by name. */
  readonly entries: ReadonlyMap<string, ZipEntry>;
  readonly #reader: FileReader;

  constructor(reader: FileReader) {
    this.#reader = reader;
    this.entries = readCentralDirectory(reader);
  }

  /** The inflated bytes of `name`, CRC-checked. */
  read(name: string): Uint8Array {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new CheckpointError(this.#reader.path, `archive has no entry "${name}"`);
    const path = this.#reader.path;
    const raw = this.#reader.read(this.#dataOffset(entry), entry.compressedSize);
    let bytes: Uint8Array;
    if (entry.method === 0) {
      bytes = raw;
    } else {
      try {
        // the directory's size caps the output, so a deflate bomb stops there
        bytes = new Uint8Array(inflateRawSync(raw, { maxOutputLength: Math.max(entry.size, 1) }));
      } catch (err) {
        throw new CheckpointError(path, `entry "${name}": corrupt deflate data: ${(err as Error).message}`);
      }
    }
    if (bytes.length !== entry.size) {
      throw new CheckpointError(path, `entry "${name}": ${bytes.length} bytes, directory says ${entry.size}`);
    }
    if (crc32(bytes) >>> 0 !== entry.crc) throw new CheckpointError(path, `entry "${name}": CRC-32 mismatch`);
    return bytes;
  }

  #dataOffset(entry: ZipEntry): number {
    const header = this.#reader.read(entry.headerOffset, 30);
    const view = new DataView(header.buffer);
    if (view.getUint32(0, true) !== LOCAL_SIGNATURE) {
      throw new CheckpointError(this.#reader.path, `entry "${entry.name}": bad local header at ${entry.headerOffset}`);
    }
    const start = entry.headerOffset + 30 + view.getUint16(26, true) + view.getUint16(28, true);
    if (start + entry.compressedSize > this.#reader.size) {
      throw new CheckpointError(this.#reader.path, `entry "${entry.name}" runs past the end of the file`);
    }
    return start;
  }
}

function findEndRecord(reader: FileReader): { view: DataView; at: number } {
  const span = Math.min(reader.size, 22 + MAX_COMMENT);
  const tail = reader.read(reader.size - span, span);
  const view = new DataView(tail.buffer);
  for (let i = span - 22; i >= 0; i--) {
    if (view.getUint32(i, true) === EOCD_SIGNATURE) {
      return { view: new DataView(tail.buffer, i), at: reader.size - span + i };
    }
  }
  throw new CheckpointError(reader.path, "not a zip archive (no end-of-central-directory record)");
}

function readCentralDirectory(reader: FileReader): Map<string, ZipEntry> {
  const path = reader.path;
  const { view: end, at } = findEndRecord(reader);
  let count = end.getUint16(10, true);
  let size = end.getUint32(12, true);
  let offset = end.getUint32(16, true);
  if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    const locator = at >= 20 ? new DataView(reader.read(at - 20, 20).buffer) : undefined;
    if (locator === undefined || locator.getUint32(0, true) !== ZIP64_LOCATOR_SIGNATURE) {
      throw new CheckpointError(path, "zip64 fields without a zip64 end-of-central-directory locator");
    }
    const recordAt = Number(locator.getBigUint64(8, true));
    if (recordAt + 56 > reader.size) throw new CheckpointError(path, "zip64 end record out of bounds");
    const record = new DataView(reader.read(recordAt, 56).buffer);
    if (record.getUint32(0, true) !== ZIP64_EOCD_SIGNATURE) throw new CheckpointError(path, "bad zip64 end record");
    count = Number(record.getBigUint64(32, true));
    size = Number(record.getBigUint64(40, true));
    offset = Number(record.getBigUint64(48, true));
  }
  if (offset + size > reader.size) throw new CheckpointError(path, "central directory out of bounds");
  const directory = reader.read(offset, size);
  const view = new DataView(directory.buffer);
  const decoder = new TextDecoder();
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > size || view.getUint32(p, true) !== CENTRAL_SIGNATURE) {
      throw new CheckpointError(path, `central directory entry ${i} is corrupt`);
    }
    const flags = view.getUint16(p + 8, true);
    const method = view.getUint16(p + 10, true);
    const nameLength = view.getUint16(p + 28, true);
    const extraLength = view.getUint16(p + 30, true);
    const commentLength = view.getUint16(p + 32, true);
    if (p + 46 + nameLength + extraLength + commentLength > size) {
      throw new CheckpointError(path, `central directory entry ${i} is truncated`);
    }
    const name = decoder.decode(directory.subarray(p + 46, p + 46 + nameLength));
    const fields = [view.getUint32(p + 24, true), view.getUint32(p + 20, true), view.getUint32(p + 42, true)];
    readZip64Extra(directory.subarray(p + 46 + nameLength, p + 46 + nameLength + extraLength), fields);
    if (flags & 1) throw new CheckpointError(path, `entry "${name}" is encrypted`);
    if (method !== 0 && method !== 8) {
      throw new CheckpointError(path, `entry "${name}" uses compression method ${method} (only stored and deflate)`);
    }
    if (entries.has(name)) throw new CheckpointError(path, `duplicate archive entry "${name}"`);
    const [entrySize, compressedSize, headerOffset] = fields;
    if (method === 0 && entrySize !== compressedSize) {
      throw new CheckpointError(path, `stored entry "${name}" has sizes ${compressedSize} and ${entrySize}`);
    }
    entries.set(name, {
      name,
      method,
      compressedSize,
      size: entrySize,
      crc: view.getUint32(p + 16, true),
      headerOffset,
    });
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** Replaces the 0xffffffff placeholders in [size, compressed size, header offset] from a zip64 extra. */
function readZip64Extra(extra: Uint8Array, fields: number[]): void {
  const view = new DataView(extra.buffer, extra.byteOffset, extra.byteLength);
  for (let p = 0; p + 4 <= extra.length;) {
    const id = view.getUint16(p, true);
    const length = view.getUint16(p + 2, true);
    if (id === ZIP64_EXTRA_ID) {
      let q = p + 4;
      for (let k = 0; k < fields.length; k++) {
        if (fields[k] !== 0xffffffff) continue;
        if (q + 8 > p + 4 + length) break;
        fields[k] = Number(view.getBigUint64(q, true));
        q += 8;
      }
    }
    p += 4 + length;
  }
}
