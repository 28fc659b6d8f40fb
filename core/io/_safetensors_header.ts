// The safetensors header: an 8-byte little-endian length, then that many bytes of JSON mapping
// tensor names to {dtype, shape, data_offsets} (offsets relative to the data that follows), plus
// an optional string→string "__metadata__". Everything is checked before any tensor is touched.
import { z } from "zod";
import { CheckpointError } from "../errors.ts";
import { STORED_DTYPES, STORED_SIZE, type StoredDType } from "./_elements.ts";

/** Largest header accepted; real headers are kilobytes, a huge one is a corrupt or hostile file. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Data sections are padded so each tensor starts aligned; gaps shorter than this are padding. */
export const ALIGNMENT = 8;

/** One tensor's entry, with offsets relative to the start of the data section. */
export interface SafetensorsEntry {
  /** Stored element type. */
  dtype: StoredDType;
  /** Dimensions. */
  shape: number[];
  /** First byte, relative to the data section. */
  begin: number;
  /** One past the last byte, relative to the data section. */
  end: number;
}

/** A validated header. */
export interface SafetensorsHeader {
  /** Tensors in file order (by offset). */
  entries: Map<string, SafetensorsEntry>;
  /** The `__metadata__` strings (empty when absent). */
  metadata: Record<string, string>;
  /** Absolute file offset of the data section (8 + header length). */
  dataStart: number;
}

const offset = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

const EntrySchema = z.strictObject({
  dtype: z.enum(STORED_DTYPES, { error: (issue) => `unknown dtype ${JSON.stringify(issue.input)}` }),
  shape: z.array(offset),
  data_offsets: z.tuple([offset, offset]),
});

const MetadataSchema = z.record(z.string(), z.string({ error: "metadata values must be strings" }));

function check<T>(schema: z.ZodType<T>, value: unknown, source: string, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue.path.length === 0 ? "" : `${issue.path.map(String).join(".")}: `;
  throw new CheckpointError(source, `${what}: ${field}${issue.message}`);
}

/**
 * Reads the 8-byte prefix and returns the header length, checked against the limit and the file
 * size (`fileSize` = total bytes available, prefix included).
 */
export function headerLength(prefix: Uint8Array, fileSize: number, source: string): number {
  if (fileSize < 8) throw new CheckpointError(source, `${fileSize} bytes is too short for a safetensors file`);
  const length = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw new CheckpointError(source, `header size ${length} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (length > BigInt(fileSize - 8)) {
    throw new CheckpointError(source, `header size ${length} exceeds the file (${fileSize} bytes)`);
  }
  return Number(length);
}

/** Parses and validates the JSON header against a data section of `dataLength` bytes. */
export function parseHeader(headerBytes: Uint8Array, dataLength: number, source: string): SafetensorsHeader {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(headerBytes));
  } catch (err) {
    throw new CheckpointError(source, `header is not valid UTF-8 JSON: ${(err as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new CheckpointError(source, "header must be a JSON object");
  }
  let metadata: Record<string, string> = {};
  const entries: [string, SafetensorsEntry][] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === "__metadata__") {
      metadata = check(MetadataSchema, value, source, "__metadata__");
      continue;
    }
    const raw = check(EntrySchema, value, source, `tensor "${name}"`);
    const [begin, end] = raw.data_offsets;
    const expected = raw.shape.reduce((a, b) => a * b, 1) * STORED_SIZE[raw.dtype];
    if (end < begin) {
      throw new CheckpointError(source, `tensor "${name}": data_offsets [${begin}, ${end}] are reversed`);
    }
    if (end - begin !== expected) {
      throw new CheckpointError(
        source,
        `tensor "${name}": shape [${raw.shape.join(", ")}] of ${raw.dtype} needs ${expected} bytes, ` +
          `data_offsets [${begin}, ${end}] span ${end - begin}`,
      );
    }
    if (end > dataLength) {
      throw new CheckpointError(
        source,
        `tensor "${name}": data_offsets [${begin}, ${end}] out of bounds (data section has ${dataLength} bytes)`,
      );
    }
    entries.push([name, { dtype: raw.dtype, shape: raw.shape, begin, end }]);
  }
  entries.sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let covered = 0;
  let previous = "";
  for (const [name, entry] of entries) {
    if (entry.begin < covered) {
      throw new CheckpointError(
        source,
        `tensor "${name}" overlaps tensor "${previous}" (bytes ${entry.begin}..${covered})`,
      );
    }
    if (entry.begin - covered >= ALIGNMENT) {
      throw new CheckpointError(source, `gap of ${entry.begin - covered} bytes before tensor "${name}"`);
    }
    covered = entry.end;
    previous = name;
  }
  if (dataLength - covered >= ALIGNMENT) {
    throw new CheckpointError(source, `${dataLength - covered} unused bytes after the last tensor`);
  }
  return { entries: new Map(entries), metadata, dataStart: 8 + headerBytes.length };
}
