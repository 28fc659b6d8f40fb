/**
 * The plugin contract: what an attention family must declare (validated with zod when it is
 * registered) and the layer interface it implements. Core code knows plugins only through this.
 *
 * @module
 */
import { z } from "zod";
import { parseOrThrow } from "./_validate.ts";
import type { Device, Tensor } from "./tensor.ts";
import type { DType } from "./dtype.ts";

/** Argument and result types a native symbol may use (the common subset of Deno and Bun FFI). */
export const FfiTypeSchema: z.ZodEnum<{
  i32: "i32";
  u32: "u32";
  i64: "i64";
  u64: "u64";
  f32: "f32";
  f64: "f64";
  pointer: "pointer";
  void: "void";
}> = z.enum(["i32", "u32", "i64", "u64", "f32", "f64", "pointer", "void"]);

/** A native type in a symbol table. */
export type FfiType = z.infer<typeof FfiTypeSchema>;

/** One native function: its argument types and its result type. */
export const FfiSymbolSchema: z.ZodObject<{
  parameters: z.ZodArray<typeof FfiTypeSchema>;
  result: typeof FfiTypeSchema;
}> = z.object({
  parameters: z.array(FfiTypeSchema),
  result: FfiTypeSchema,
});

/** A native function's signature. */
export type FfiSymbol = z.infer<typeof FfiSymbolSchema>;

/** A library's symbol table: name → signature. */
export type SymbolTable = Record<string, FfiSymbol>;

/** Geometry and options a model hands to the token mixer it creates. */
export interface MixerSpec {
  /** Model width C (channels). */
  dim: number;
  /** Attention heads. */
  heads: number;
  /** Key/value heads (GQA/MQA); defaults to `heads`. */
  kvHeads?: number;
  /** Causal (LM) or bidirectional (vision) use. */
  causal: boolean;
  /** Index of this layer and the number of layers (per-layer decay, LRPE on layer 0). */
  layer: number;
  /** Number of layers in the model. */
  layers: number;
  /** Token grid [h, w] of vision models (patch tokens only). */
  grid?: readonly [number, number];
  /** Whether token 0 is a class token that is not part of the grid. */
  classToken?: boolean;
  /** Bias on the q/k/v projections (vision models: true). */
  qkvBias?: boolean;
  /** Element type of parameters and activations. */
  dtype: DType;
  /** Device of parameters and activations. */
  device: Device;
  /** Seed of the random initialisation. */
  seed: number;
}

/** Recurrent or cached state of a causal mixer during generation. */
export interface MixerState extends Disposable {
  /** Tokens consumed so far. */
  readonly length: number;
}

/**
 * A token-mixing layer: [B, N, C] → [B, N, C]. Its parameters are named as in the official
 * checkpoints, relative to the layer (e.g. `qkv.weight`), so loaders can map them one to one.
 */
export interface TokenMixer extends Disposable {
  /** Parameters by official name; a loader may replace entries (same shape and dtype). */
  readonly parameters: Map<string, Tensor>;
  /** Full-sequence forward. */
  forward(x: Tensor): Tensor;
  /** Fresh decode state for `batch` sequences (causal mixers only). */
  createState?(batch: number): MixerState;
  /** Consumes new tokens [B, T, C] after what `state` holds, returns their outputs, advances it. */
  step?(x: Tensor, state: MixerState): Tensor;
}

/** Parameters and forward FLOPs of one mixer over `tokens` tokens (multiply-add = 2 FLOPs). */
export interface MixerCost {
  /** Parameter count of one mixer. */
  params: number;
  /** FLOPs of one forward pass over `tokens` tokens of one sequence. */
  flops: number;
}

/** A native function of a plugin's kernel library (arguments as its symbol table declares). */
export type PluginKernel = (...args: (number | bigint | Uint8Array | Float32Array | Int32Array | null)[]) => unknown;

/**
 * A plugin's own kernels on a device, opened by the backend from the manifest's `kernels` and
 * handed to the plugin's ops: the library's functions, device addresses of tensors, the stream
 * every backend op runs on, and status checking that names the op and the library's message.
 */
export interface PluginKernels {
  /** The library's functions by name, bound from the manifest's symbol table. */
  readonly symbols: Readonly<Record<string, PluginKernel>>;
  /** Device address of a tensor of this device (for `u64` pointer arguments). */
  pointer(t: Tensor): bigint;
  /** The backend's stream (for a `u64` stream argument): kernels then order after every op. */
  readonly stream: bigint;
  /** A new uninitialised tensor on this device, for kernel outputs. */
  empty(shape: readonly number[], dtype: DType): Tensor;
  /** Throws NativeError(op, status, the library's last error) when `status` is not 0. */
  check(status: number, op: string, detail: string | (() => string)): void;
  /** Compute capability of the device (90 for Hopper). */
  readonly computeCapability: number;
  /** The runtime ABI's code of a dtype (kernels/_runtime.h: AZ_F32, AZ_F16, AZ_BF16, AZ_I32), for `dtype` arguments. */
  dtypeCode(dtype: DType): number;
}

/** Ops a plugin implements on one backend. */
export interface PluginOps {
  /**
   * Creates the plugin's token mixer; `config` has passed the plugin's config schema. `kernels`
   * are the plugin's own native kernels when it declares some and the device could load them.
   */
  createMixer(spec: MixerSpec, config: unknown, kernels?: PluginKernels): TokenMixer;
}

const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === "function", "must be a function");

const OpsSchema = z.object({ createMixer: fn });

/** Where a plugin's family comes from. */
export const PaperSchema: z.ZodObject<{
  title: z.ZodString;
  arxiv: z.ZodString;
  code: z.ZodString;
}> = z.object({
  title: z.string().min(1),
  arxiv: z.string().regex(/^\d{4}\.\d{4,5}$/, "must be an arXiv id such as 2409.04431"),
  code: z.string().url(),
});

/** The manifest schema every plugin must pass at registration. */
export const PluginManifestSchema: z.ZodType<PluginManifest> = z.object({
  name: z.string().regex(/^[a-z][a-z0-9-]*$/, "must be a lowercase slug"),
  title: z.string().min(1),
  paper: PaperSchema,
  supports: z.object({ causal: z.boolean(), nonCausal: z.boolean() })
    .refine((s) => s.causal || s.nonCausal, "must support causal or non-causal use"),
  configSchema: z.custom<z.ZodType>((v) => v instanceof z.ZodType, "must be a zod schema"),
  ops: z.object({ cpu: OpsSchema, cuda: OpsSchema.optional() }),
  cost: fn.optional(),
  kernels: z.object({
    sources: z.array(z.string().regex(/^kernels\/[\w.-]+\.cu$/, "must be kernels/NAME.cu")),
    symbols: z.record(z.string().regex(/^[A-Za-z_]\w*$/), FfiSymbolSchema),
  }),
  configs: z.record(z.string().regex(/^configs\/[\w.-]+\.json$/, "must be configs/NAME.json"), z.unknown()),
  baseUrl: z.string().url(),
}) as unknown as z.ZodType<PluginManifest>;

/** What a plugin declares. */
export interface PluginManifest {
  /** Registry name, a lowercase slug (`sigmoid`). */
  name: string;
  /** Human title (`FlashSigmoid attention`). */
  title: string;
  /** The paper and its official code. */
  paper: z.infer<typeof PaperSchema>;
  /** Which uses the family supports. */
  supports: { causal: boolean; nonCausal: boolean };
  /** Zod schema of the family's attention config (the `attention` block of model configs). */
  configSchema: z.ZodType;
  /** Ops per backend: CPU always; CUDA when its kernels are built. */
  ops: { cpu: PluginOps; cuda?: PluginOps };
  /** Parameters and FLOPs of one mixer, from its spec and config alone (no allocation). */
  cost?: (spec: MixerSpec, config: unknown, tokens: number) => MixerCost;
  /** CUDA sources (relative to the plugin folder) and the symbols they export. */
  kernels: { sources: string[]; symbols: SymbolTable };
  /** Pretrained model configs: `configs/NAME.json` → its parsed JSON, validated by the registry. */
  configs: Record<string, unknown>;
  /** `import.meta.url` of the plugin's folder, to locate its kernel sources. */
  baseUrl: string;
}

/**
 * Validates a plugin's `attention` config (missing means all defaults): a bad field throws
 * ConfigError naming the field (an unknown key by its own name) and `source`.
 */
export function parseConfig<T>(schema: z.ZodType<T>, config: unknown, source: string): T {
  return parseOrThrow(schema, config ?? {}, source);
}
