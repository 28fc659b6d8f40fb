// Loads the parity fixtures of tests/fixtures/sigmoid (made by tests/fixtures/gen_sigmoid.py).
import { fileURLToPath } from "node:url";
import { readSafetensors } from "../../../core/io/safetensors.ts";
import type { Tensor } from "../../../core/tensor.ts";

/** Every tensor of fixture `name` (e.g. `functional`), by name. */
export function readFixture(name: string): Map<string, Tensor> {
  return readSafetensors(fileURLToPath(new URL(`../../fixtures/sigmoid/${name}.safetensors`, import.meta.url)));
}

/** The tensor `key` of a fixture; a missing key fails loudly. */
export function pick(fixture: Map<string, Tensor>, key: string): Tensor {
  const t = fixture.get(key);
  if (t === undefined) throw new Error(`fixture has no tensor "${key}"`);
  return t;
}

/** The first element of a one-element fixture tensor. */
export function scalar(fixture: Map<string, Tensor>, key: string): number {
  return pick(fixture, key).toFloat32Array()[0];
}
