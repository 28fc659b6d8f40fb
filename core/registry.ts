/**
 * The registry: attention plugins, model architectures, and the pretrained configs that plugins
 * ship. Names follow timm: `listModels("*agent*")`, `modelInfo(name)`, `createModel(name)`.
 *
 * @module
 */
import { z } from "zod";
import { matchesPattern, nearest } from "./_names.ts";
import { parseOrThrow } from "./_validate.ts";
import { backendFor, type DeviceRequest, resolveDevice } from "./backend.ts";
import type { DType } from "./dtype.ts";
import { ConfigError, DeviceUnavailableError, NotFoundError } from "./errors.ts";
import { type MixerSpec, type PluginManifest, PluginManifestSchema, type TokenMixer } from "./plugin.ts";
import type { Device, Tensor } from "./tensor.ts";

/** The fields every pretrained config has; its architecture's schema checks the rest. */
export const ConfigEnvelopeSchema: z.ZodType<ConfigEnvelope> = z.looseObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, "must be a lowercase model name"),
  architecture: z.string().min(1),
  card: z.looseObject({
    summary: z.string().min(1),
    paper: z.string().min(1),
    weights: z.string().min(1),
    license: z.string().optional(),
  }),
}) as z.ZodType<ConfigEnvelope>;

/** The common part of a pretrained config. */
export interface ConfigEnvelope {
  /** Registry name (timm style: `agent_deit_tiny`). */
  name: string;
  /** Architecture that builds it (`vit`, `pvt`, `lm`). */
  architecture: string;
  /** Model card: what it is, where it comes from. */
  card: { summary: string; paper: string; weights: string; license?: string; [key: string]: unknown };
  /** Architecture-specific fields, checked by the architecture's schema. */
  [key: string]: unknown;
}

/** A built model. Architectures add their own forward methods. */
export interface Model extends Disposable {
  /** Registry name it was built from. */
  readonly name: string;
  /** The validated config. */
  readonly config: ConfigEnvelope;
  /** Device of its parameters. */
  readonly device: Device;
  /** Parameters by checkpoint name. */
  readonly parameters: Map<string, Tensor>;
  /** Frees every parameter. */
  dispose(): void;
}

/** Options of {@linkcode createModel}. */
export interface CreateModelOptions {
  /** `cpu`, `cuda`, or `auto` (CUDA when available). Default `auto`. */
  device?: DeviceRequest;
  /** Parameter and activation dtype. Default f32. */
  dtype?: DType;
  /** Seed of the random initialisation when no weights are given. Default 0. */
  seed?: number;
  /** Checkpoint to load (safetensors, sharded index JSON, or PyTorch .pth/.bin). */
  weights?: string;
}

/** Parameter and FLOP counts computed from a config. */
export interface ModelCounts {
  /** Number of parameters. */
  params: number;
  /** Floating-point operations of one forward pass per `per` (multiply-add = 2). */
  flops: number;
  /** What the FLOPs are counted per. */
  per: "image" | "token";
}

/** Everything known about a registered model without building it. */
export interface ModelInfo extends ModelCounts {
  /** Registry name. */
  name: string;
  /** Plugin that ships the config. */
  plugin: string;
  /** Architecture that builds it. */
  architecture: string;
  /** File the config came from. */
  source: string;
  /** The model card. */
  card: ConfigEnvelope["card"];
}

/** What an architecture's builder receives besides its config. */
export interface BuildContext {
  /** Resolved device. */
  device: Device;
  /** Parameter dtype. */
  dtype: DType;
  /** Initialisation seed. */
  seed: number;
  /** Looks up a registered plugin by name. */
  plugin(name: string): PluginManifest;
}

/** A model architecture (ViT, PVT, LM): its config schema, its builder, its counter. */
export interface Architecture {
  /** Name used in configs' `architecture` field. */
  name: string;
  /** Full schema of its configs. */
  schema: z.ZodType;
  /** Builds a randomly initialised model on the context's device. */
  create(config: ConfigEnvelope, context: BuildContext): Model;
  /** Counts parameters and FLOPs from the config alone. */
  count(config: ConfigEnvelope, plugin: (name: string) => PluginManifest): ModelCounts;
}

/** Loads a checkpoint into a built model; installed by core/io. */
export type WeightLoader = (model: Model, path: string) => void;

interface ConfigEntry {
  config: ConfigEnvelope;
  plugin: string;
  source: string;
}

const plugins = new Map<string, PluginManifest>();
const architectures = new Map<string, Architecture>();
const configs = new Map<string, ConfigEntry>();
let weightLoader: WeightLoader | undefined;

/**
 * Registers an attention plugin. The manifest is validated; an invalid one throws ConfigError
 * naming the plugin and the field. Its pretrained configs are registered with it.
 */
export function registerPlugin(manifest: unknown): PluginManifest {
  const label = typeof (manifest as { name?: unknown })?.name === "string"
    ? `plugin "${(manifest as { name: string }).name}"`
    : "plugin manifest";
  const parsed = parseOrThrow(PluginManifestSchema, manifest, label);
  if (plugins.has(parsed.name)) throw new ConfigError(label, "name", "a plugin of this name is already registered");
  const entries: ConfigEntry[] = [];
  for (const [file, raw] of Object.entries(parsed.configs)) {
    const source = `plugins/${parsed.name}/${file}`;
    const config = parseOrThrow(ConfigEnvelopeSchema, raw, source);
    if (configs.has(config.name) || entries.some((e) => e.config.name === config.name)) {
      throw new ConfigError(source, "name", `model "${config.name}" is already registered`);
    }
    entries.push({ config, plugin: parsed.name, source });
  }
  plugins.set(parsed.name, parsed);
  for (const entry of entries) configs.set(entry.config.name, entry);
  return parsed;
}

/** Registers a model architecture. */
export function registerArchitecture(architecture: Architecture): void {
  architectures.set(architecture.name, architecture);
}

/** Installs the checkpoint loader used by `createModel(…, { weights })`. */
export function setWeightLoader(loader: WeightLoader): void {
  weightLoader = loader;
}

/** Summary of a registered plugin. */
export interface PluginSummary {
  /** Registry name. */
  name: string;
  /** Human title. */
  title: string;
  /** arXiv id of the paper. */
  arxiv: string;
  /** Supports causal (LM) use. */
  causal: boolean;
  /** Supports bidirectional (vision) use. */
  nonCausal: boolean;
  /** Has CUDA ops. */
  cuda: boolean;
  /** Number of pretrained configs it ships. */
  models: number;
}

/** Registered plugins, sorted by name. */
export function listPlugins(): PluginSummary[] {
  return [...plugins.values()].sort((a, b) => a.name.localeCompare(b.name)).map((p) => ({
    name: p.name,
    title: p.title,
    arxiv: p.paper.arxiv,
    causal: p.supports.causal,
    nonCausal: p.supports.nonCausal,
    cuda: p.ops.cuda !== undefined,
    models: Object.keys(p.configs).length,
  }));
}

/** The manifest of a registered plugin; unknown names throw NotFoundError with a suggestion. */
export function getPlugin(name: string): PluginManifest {
  const plugin = plugins.get(name);
  if (plugin === undefined) throw new NotFoundError("plugin", name, nearest(name, plugins.keys()));
  return plugin;
}

/**
 * Builds a token mixer of a registered plugin on `spec.device` — the swappable attention of
 * every model. `config` is validated by the plugin's schema (defaults filled in); a bad field
 * throws ConfigError naming it and `source`.
 */
export function createMixer(
  pluginName: string,
  spec: MixerSpec,
  config: unknown = {},
  source = `attention config of plugin "${pluginName}"`,
): TokenMixer {
  const plugin = getPlugin(pluginName);
  const mode = spec.causal ? "causal" : "nonCausal";
  if (!plugin.supports[mode]) {
    throw new ConfigError(
      source,
      "causal",
      `plugin "${pluginName}" does not support ${spec.causal ? "causal" : "bidirectional"} use`,
    );
  }
  const parsed = parseOrThrow(plugin.configSchema, config, source);
  const ops = plugin.ops[spec.device];
  if (ops === undefined) {
    throw new DeviceUnavailableError(
      spec.device,
      `plugin "${pluginName}" has no ${spec.device} ops (are its kernels built?)`,
    );
  }
  return ops.createMixer(spec, parsed, backendFor(spec.device).pluginKernels?.(plugin));
}

/** Registered model names matching `pattern` (`*` and `?` wildcards, case-insensitive), sorted. */
export function listModels(pattern = "*"): string[] {
  return [...configs.keys()].filter((n) => matchesPattern(n, pattern)).sort();
}

function entry(name: string): ConfigEntry {
  const found = configs.get(name);
  if (found === undefined) throw new NotFoundError("model", name, nearest(name, configs.keys()));
  return found;
}

function validated(found: ConfigEntry): { config: ConfigEnvelope; architecture: Architecture } {
  const architecture = architectures.get(found.config.architecture);
  if (architecture === undefined) {
    throw new ConfigError(found.source, "architecture", `no architecture "${found.config.architecture}" is registered`);
  }
  const config = parseOrThrow(architecture.schema, found.config, found.source) as ConfigEnvelope;
  return { config, architecture };
}

/** Parameter count, FLOPs and model card of a registered model, computed from its config. */
export function modelInfo(name: string): ModelInfo {
  const found = entry(name);
  const { config, architecture } = validated(found);
  return {
    name,
    plugin: found.plugin,
    architecture: architecture.name,
    source: found.source,
    card: config.card,
    ...architecture.count(config, getPlugin),
  };
}

/** The validated config of a registered model. */
export function modelConfig(name: string): ConfigEnvelope {
  return validated(entry(name)).config;
}

/**
 * Builds a registered model: random weights from `seed`, or the checkpoint in `weights`. A
 * checkpoint that does not match is rejected whole; no half-loaded model is returned.
 */
export function createModel(name: string, options: CreateModelOptions = {}): Model {
  const found = entry(name);
  return buildModel(found.config, options, found.source);
}

/**
 * Builds a model from a config object that need not be registered (experiments, tests): it is
 * validated by its architecture's schema, errors naming `source` and the field.
 */
export function buildModel(config: unknown, options: CreateModelOptions = {}, source = "model config"): Model {
  const envelope = parseOrThrow(ConfigEnvelopeSchema, config, source);
  const { config: validConfig, architecture } = validated({ config: envelope, plugin: "", source });
  const device = resolveDevice(options.device ?? "auto");
  const model = architecture.create(validConfig, {
    device,
    dtype: options.dtype ?? "f32",
    seed: options.seed ?? 0,
    plugin: getPlugin,
  });
  if (options.weights !== undefined) {
    try {
      if (weightLoader === undefined) throw new ConfigError(source, "weights", "no checkpoint loader is installed");
      weightLoader(model, options.weights);
    } catch (err) {
      model.dispose();
      throw err;
    }
  }
  return model;
}
