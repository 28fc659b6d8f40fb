// Helpers for checkpoint tests: a scratch directory and hand-assembled safetensors bytes.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A fresh temporary directory; returns a function that joins names onto it. */
export function scratchDir(): (name: string) => string {
  const dir = mkdtempSync(join(tmpdir(), "attnzoo-io-"));
  return (name) => join(dir, name);
}

/** Safetensors bytes from a header object (serialized as given, unpadded) and a data section. */
export function safetensorsBytes(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  return withPrefix(BigInt(json.length), json, data);
}

/** The 8-byte little-endian `length`, then `json`, then `data`, whatever `length` claims. */
export function withPrefix(length: bigint, json: Uint8Array, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Little-endian bytes of a typed array. */
export function bytesOf(values: ArrayBufferView): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
}
