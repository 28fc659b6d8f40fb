// Shared by the GPU tests: the CUDA backend when this machine has one (else a printed skip
// reason), the CPU backend when it is registered, random inputs, and the comparison that runs one
// op on both devices and checks each against an f64 reference.
import { backendFor, registerBackend } from "../../core/backend.ts";
import type { Backend } from "../../core/backend.ts";
import type { DType } from "../../core/dtype.ts";
import { DeviceUnavailableError } from "../../core/errors.ts";
import { cast, toDevice } from "../../core/ops.ts";
import type { MixerSpec } from "../../core/plugin.ts";
import { randn } from "../../core/random.ts";
import type { Tensor } from "../../core/tensor.ts";
import { type CudaBackend, loadCudaBackend } from "../../core/backends/cuda/mod.ts";
import { assertClose, type Tolerance } from "../_assert.ts";

registerBackend("cuda", loadCudaBackend);

let skipReason = "";
let cuda: CudaBackend | undefined;
try {
  cuda = backendFor("cuda") as CudaBackend;
} catch (error) {
  if (!(error instanceof DeviceUnavailableError)) throw error;
  skipReason = error.message;
}

/** The CUDA backend, or undefined after printing why the calling test is skipped. */
export function gpu(testName: string): CudaBackend | undefined {
  if (cuda === undefined) console.log(`skip ${testName}: ${skipReason}`);
  return cuda;
}

/** The CPU backend, when one is registered (it is compared too); else undefined. */
export function cpu(): Backend | undefined {
  try {
    return backendFor("cpu");
  } catch (error) {
    if (error instanceof DeviceUnavailableError) return undefined;
    throw error;
  }
}

/**
 * Tolerances, elementwise |got − ref| ≤ atol + rtol·|ref| against an f64 reference computed from
 * the same (rounded) inputs. f32 math differs from f64 by a few ulps (2⁻²⁴ ≈ 6e-8) plus
 * summation order, so 1e-5 leaves room for sums of hundreds of terms. bf16 and f16 outputs are
 * rounded once from f32: half an ulp of bf16 is 2⁻⁹ ≈ 2e-3, and an f32 result on the other side of
 * a rounding boundary costs one more ulp, so 8e-3 (two bf16 ulps) bounds every element; f16 has 3
 * more mantissa bits.
 */
export const TOLERANCE: Readonly<Record<"f32" | "f16" | "bf16", Required<Tolerance>>> = {
  f32: { rtol: 1e-5, atol: 1e-5 },
  f16: { rtol: 1e-3, atol: 1e-3 },
  bf16: { rtol: 8e-3, atol: 2e-3 },
};

/** Normal samples of `dtype` (rounded to it) on the host. */
export function sample(shape: readonly number[], dtype: DType, seed: number, std = 1): Tensor {
  return randn(shape, { seed, dtype, std });
}

/** An op run through the Backend interface, given its inputs on that backend's device. */
export type Run = (backend: Backend, inputs: Tensor[]) => Tensor;

/** A backend an op is checked on, with its device name for messages. */
export type Target = [name: string, backend: Backend];

/**
 * The backends to check a test's ops on: CUDA when available (else its skip reason is printed)
 * and the CPU backend when registered, so the references are exercised even without a GPU.
 */
export function targets(testName: string): Target[] {
  const out: Target[] = [];
  const g = gpu(testName);
  if (g !== undefined) out.push(["cuda", g]);
  const host = cpu();
  if (host !== undefined) out.push(["cpu", host]);
  return out;
}

/**
 * Moves host `inputs` to each target, runs `run` there, and checks shape and values against
 * `expected` (f64 values from the rounded inputs). `scale` widens atol for outputs whose
 * magnitude grows with the problem (long sums).
 */
export function compare(
  label: string,
  on: readonly Target[],
  inputs: Tensor[],
  run: Run,
  expected: { shape: readonly number[]; values: ArrayLike<number> },
  dtype: "f32" | "f16" | "bf16",
  scale = 1,
): void {
  const tol = { rtol: TOLERANCE[dtype].rtol, atol: TOLERANCE[dtype].atol * scale };
  for (const [name, backend] of on) {
    const moved = inputs.map((x) => backend.fromHost(x));
    try {
      const out = run(backend, moved);
      try {
        const got = `[${out.shape.join(", ")}]`, want = `[${expected.shape.join(", ")}]`;
        if (got !== want) throw new Error(`${label} on ${name}: shape ${got}, expected ${want}`);
        assertClose(out.toFloat32Array(), expected.values, tol, `${label} on ${name}`);
      } finally {
        out.dispose();
      }
    } finally {
      for (const x of moved) x.dispose();
    }
  }
}

/** The f64 values of host tensors (already rounded to their dtype). */
export function values(...xs: Tensor[]): Float64Array[] {
  return xs.map((x) => Float64Array.from(x.toFloat32Array()));
}

/** x rounded to bf16 and moved to the GPU: what a bf16 CUDA mixer is given. */
export function bf16OnCuda(x: Tensor): Tensor {
  using bf16 = cast(x, "bf16");
  return toDevice(bf16, "cuda");
}

/**
 * A mixer spec for comparing one family's CPU mixer (f32) with its CUDA mixer (bf16): the same
 * seed gives both the same weights. Width 256, 4 heads, causal, one layer unless overridden.
 */
export function mixerSpec(device: "cpu" | "cuda", overrides: Partial<MixerSpec>): MixerSpec {
  return {
    dim: 256,
    heads: 4,
    causal: true,
    layer: 0,
    layers: 1,
    dtype: device === "cpu" ? "f32" : "bf16",
    device,
    seed: 9,
    ...overrides,
  };
}
