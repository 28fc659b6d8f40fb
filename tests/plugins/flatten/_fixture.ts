// Loads the official-code fixtures written by tests/fixtures/gen_flatten.py.
import { readSafetensors, readSafetensorsMetadata } from "../../../core/io/safetensors.ts";
import type { Tensor } from "../../../core/tensor.ts";

/** One fixture file: tensors by name (x, out, official parameter names) and its metadata strings. */
export interface Fixture {
  tensors: Map<string, Tensor>;
  meta: Record<string, string>;
}

/** Reads tests/fixtures/flatten/NAME.safetensors. */
export function loadFixture(name: string): Fixture {
  const path = decodeURIComponent(new URL(`../../fixtures/flatten/${name}.safetensors`, import.meta.url).pathname);
  return { tensors: readSafetensors(path), meta: readSafetensorsMetadata(path) };
}
