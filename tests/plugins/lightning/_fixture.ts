// Loads the parity fixtures of tests/fixtures/lightning (made by tests/fixtures/gen_lightning.py)
// and builds seeded random inputs for the functional API.
import { fileURLToPath } from "node:url";
import { readSafetensors } from "../../../core/io/safetensors.ts";
import { randn } from "../../../core/random.ts";
import type { Tensor } from "../../../core/tensor.ts";

/** Every tensor of fixture `name` (e.g. `functional`), by name. */
export function readFixture(name: string): Map<string, Tensor> {
  return readSafetensors(fileURLToPath(new URL(`../../fixtures/lightning/${name}.safetensors`, import.meta.url)));
}

/** The tensor `key` of a fixture; a missing key fails loudly. */
export function pick(fixture: Map<string, Tensor>, key: string): Tensor {
  const t = fixture.get(key);
  if (t === undefined) throw new Error(`fixture has no tensor "${key}"`);
  return t;
}

/** Seeded q, k [B, H, N, d], v [B, H, N, e] with unit-normal entries. */
export function randomQkv(
  batch: number,
  heads: number,
  length: number,
  d: number,
  e: number,
  seed: number,
): { q: Tensor; k: Tensor; v: Tensor } {
  return {
    q: randn([batch, heads, length, d], { seed }),
    k: randn([batch, heads, length, d], { seed: seed + 1 }),
    v: randn([batch, heads, length, e], { seed: seed + 2 }),
  };
}
