/**
 * The `attention` config block of agent-attention models and the geometry a layer derives from it
 * and its spec (grid, windows, agent pool, spatial reduction), validated once with typed errors.
 *
 * @module
 */
import { z } from "zod";
import { parseConfig } from "../../core/plugin.ts";
import { ConfigError } from "../../core/errors.ts";

/** The agent attention config block, after defaults. */
export interface AgentConfig {
  /** Number of agent tokens n; a perfect square p² for the vision forms (p×p pooled agents). */
  agentNum: number;
  /** Swin form: side of the square windows the grid is split into; default the whole grid. */
  window?: number;
  /** Swin form: cyclic shift of the grid before windowing (shifted-window blocks); default 0. */
  shift: number;
  /** PVT form: spatial reduction of k and v by a strided convolution (`sr`, `norm`); default 1. */
  srRatio: number;
  /** Projection layout: one `qkv` Linear (DeiT, Swin) or `q` and `kv` Linears (PVT). */
  projection: "qkv" | "q_kv";
  /** Causal form: kernel of the causal depthwise conv1d on v; default 3. */
  kernelSize: number;
}

/** Schema of the agent attention config block, with defaults. */
export const AgentConfigSchema: z.ZodType<AgentConfig> = z.strictObject({
  agentNum: z.number().int().positive().default(49),
  window: z.number().int().positive().optional(),
  shift: z.number().int().nonnegative().default(0),
  srRatio: z.number().int().positive().default(1),
  projection: z.enum(["qkv", "q_kv"]).default("qkv"),
  kernelSize: z.number().int().positive().default(3),
}) as unknown as z.ZodType<AgentConfig>;

/** Where config errors point. */
export const CONFIG_SOURCE = "agent attention config";

/** Everything a vision-form layer needs to know about its shapes, derived from spec and config. */
export interface AgentGeometry {
  /** Channels C. */
  dim: number;
  /** Heads H. */
  heads: number;
  /** Head dim d = C / H. */
  headDim: number;
  /** Agents n = p². */
  agentNum: number;
  /** Side p of the agent pool. */
  pool: number;
  /** Patch grid [h, w] of the layer input (class token excluded). */
  grid: readonly [number, number];
  /** Whether token 0 is a class token (DeiT form). */
  classToken: boolean;
  /** Query window [wh, ww] one attention call sees (the grid unless windowed). */
  window: readonly [number, number];
  /** Cyclic shift before windowing. */
  shift: number;
  /** Spatial reduction of k/v. */
  srRatio: number;
  /** Key/value grid of one window: window / srRatio. */
  kvGrid: readonly [number, number];
  /** Projection layout. */
  projection: "qkv" | "q_kv";
  /** Tokens per sequence: h·w plus the class token. */
  tokens: number;
}

/** What the geometry needs from a mixer spec. */
export interface GeometrySpec {
  /** Channels C. */
  dim: number;
  /** Heads H. */
  heads: number;
  /** Patch grid [h, w]. */
  grid?: readonly [number, number];
  /** Token 0 is a class token. */
  classToken?: boolean;
}

/** Throws ConfigError unless `heads` is a positive integer dividing `dim`. */
export function checkHeads(dim: number, heads: number): number {
  if (!Number.isInteger(dim) || dim <= 0) {
    throw new ConfigError(CONFIG_SOURCE, "dim", `must be a positive integer, got ${dim}`);
  }
  if (!Number.isInteger(heads) || heads <= 0 || dim % heads !== 0) {
    throw new ConfigError(CONFIG_SOURCE, "heads", `${heads} heads do not divide dim ${dim}`);
  }
  return dim / heads;
}

/** Validates spec and config of a vision-form layer and derives its geometry. */
export function agentGeometry(spec: GeometrySpec, config: AgentConfig): AgentGeometry {
  const headDim = checkHeads(spec.dim, spec.heads);
  const pool = Math.round(Math.sqrt(config.agentNum));
  if (pool * pool !== config.agentNum) {
    throw new ConfigError(
      CONFIG_SOURCE,
      "agentNum",
      `${config.agentNum} is not a perfect square; the vision forms pool p×p agents (e.g. 9, 16, 49)`,
    );
  }
  if (spec.grid === undefined) {
    throw new ConfigError(CONFIG_SOURCE, "grid", "the vision forms need the patch grid [h, w] in the mixer spec");
  }
  const [h, w] = spec.grid;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0) {
    throw new ConfigError(CONFIG_SOURCE, "grid", `must be two positive integers, got [${h}, ${w}]`);
  }
  const classToken = spec.classToken ?? false;
  // As the official Swin block: a window at least as large as the grid becomes the grid, unshifted.
  const whole = config.window === undefined || config.window >= Math.min(h, w);
  const side = whole ? Math.min(h, w) : config.window!;
  const window: [number, number] = config.window === undefined ? [h, w] : [side, side];
  const shift = whole ? 0 : config.shift;
  if (h % window[0] !== 0 || w % window[1] !== 0) {
    throw new ConfigError(CONFIG_SOURCE, "window", `window ${config.window} does not tile the grid [${h}, ${w}]`);
  }
  const windowed = window[0] !== h || window[1] !== w;
  if (classToken && (windowed || shift !== 0)) {
    throw new ConfigError(CONFIG_SOURCE, "window", "windows and shifts cannot be used with a class token");
  }
  if (shift >= side) {
    throw new ConfigError(CONFIG_SOURCE, "shift", `shift ${shift} must be smaller than the window ${side}`);
  }
  const r = config.srRatio;
  if (r > 1) {
    if (config.projection !== "q_kv") {
      throw new ConfigError(CONFIG_SOURCE, "srRatio", 'spatial reduction needs projection "q_kv" (the PVT layout)');
    }
    if (classToken || windowed) {
      throw new ConfigError(CONFIG_SOURCE, "srRatio", "spatial reduction works on the whole grid without class token");
    }
    if (h % r !== 0 || w % r !== 0) {
      throw new ConfigError(CONFIG_SOURCE, "srRatio", `${r} does not divide the grid [${h}, ${w}]`);
    }
  }
  return {
    dim: spec.dim,
    heads: spec.heads,
    headDim,
    agentNum: config.agentNum,
    pool,
    grid: [h, w],
    classToken,
    window,
    shift,
    srRatio: r,
    kvGrid: [window[0] / r, window[1] / r],
    projection: config.projection,
    tokens: h * w + (classToken ? 1 : 0),
  };
}

/** Official parameter names and shapes of a vision-form layer. */
export function agentParameterShapes(g: AgentGeometry, qkvBias: boolean): Map<string, number[]> {
  const { dim: c, heads: nh, agentNum: n } = g;
  const [wh, ww] = g.window;
  const [kh, kw] = g.kvGrid;
  const shapes = new Map<string, number[]>();
  if (g.projection === "qkv") {
    shapes.set("qkv.weight", [3 * c, c]);
    if (qkvBias) shapes.set("qkv.bias", [3 * c]);
  } else {
    shapes.set("q.weight", [c, c]);
    if (qkvBias) shapes.set("q.bias", [c]);
    shapes.set("kv.weight", [2 * c, c]);
    if (qkvBias) shapes.set("kv.bias", [2 * c]);
    if (g.srRatio > 1) {
      shapes.set("sr.weight", [c, c, g.srRatio, g.srRatio]);
      shapes.set("sr.bias", [c]);
      shapes.set("norm.weight", [c]);
      shapes.set("norm.bias", [c]);
    }
  }
  shapes.set("proj.weight", [c, c]);
  shapes.set("proj.bias", [c]);
  shapes.set("dwc.weight", [c, 1, 3, 3]);
  shapes.set("dwc.bias", [c]);
  shapes.set("an_bias", [nh, n, 7, 7]);
  shapes.set("na_bias", [nh, n, 7, 7]);
  shapes.set("ah_bias", [1, nh, n, kh, 1]);
  shapes.set("aw_bias", [1, nh, n, 1, kw]);
  shapes.set("ha_bias", [1, nh, wh, 1, n]);
  shapes.set("wa_bias", [1, nh, 1, ww, n]);
  if (g.classToken) {
    shapes.set("ac_bias", [1, nh, n, 1]);
    shapes.set("ca_bias", [1, nh, 1, n]);
  }
  return shapes;
}

/** Parses an `attention` block (defaults filled); a bad field throws ConfigError naming it. */
export function parseAgentConfig(config: unknown): AgentConfig {
  return parseConfig(AgentConfigSchema, config, CONFIG_SOURCE);
}
