// The CLI commands over the public registry.
import { readFileSync } from "node:fs";
import { ImageError } from "../core/errors.ts";
import { decodeJpeg } from "../core/io/jpeg.ts";
import { decodePng } from "../core/io/png.ts";
import { narrow, resizeBilinear, softmax, toDevice } from "../core/ops.ts";
import { randn } from "../core/random.ts";
import { createModel, listModels, type Model, modelConfig, modelInfo } from "../core/registry.ts";
import { type Tensor, tensor } from "../core/tensor.ts";
import type { DType } from "../core/dtype.ts";
import "../mod.ts";
import { type GenerateOptions, LanguageModel, type LmConfig } from "../models/lm.ts";
import { type Args, flagInt, flagString, onlyFlags, parseArgs } from "./_args.ts";
import { UsageError } from "./_errors.ts";

export { UsageError };

type Print = (line: string) => void;

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

/** Runs one command line; throws UsageError for bad arguments and AttnzooErrors for the rest. */
export function runCommand(argv: readonly string[], print: Print): void {
  const [command, ...rest] = argv;
  switch (command) {
    case "list":
      return list(parseArgs(rest), print);
    case "info":
      return info(parseArgs(rest), print);
    case "run":
      return run(parseArgs(rest), print);
    case "bench":
      return bench(parseArgs(rest), print);
    case undefined:
    case "help":
    case "--help":
      print("attnzoo list [PATTERN]            models matching a pattern (* and ? wildcards)");
      print("attnzoo info NAME                 model card, parameters and FLOPs");
      print("attnzoo run NAME [--weights F] [--image F.png] [--tokens 1,2,3 --max-new N] [--device D] [--dtype T]");
      print("attnzoo bench NAME [--batch B] [--tokens N] [--runs R] [--device D] [--dtype T]");
      return;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

function human(n: number, unit = ""): string {
  for (const [scale, suffix] of [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]] as const) {
    if (Math.abs(n) >= scale) return `${(n / scale).toFixed(2)}${suffix}${unit}`;
  }
  return `${n}${unit}`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd());
}

function list(args: Args, print: Print): void {
  onlyFlags(args, []);
  const names = listModels(args.positional[0] ?? "*");
  const rows = [["model", "plugin", "arch", "params", "FLOPs"]];
  for (const name of names) {
    const i = modelInfo(name);
    rows.push([name, i.plugin, i.architecture, human(i.params), `${human(i.flops)}/${i.per}`]);
  }
  for (const line of table(rows)) print(line);
  print(`${names.length} model${names.length === 1 ? "" : "s"}`);
}

function oneName(args: Args): string {
  if (args.positional.length !== 1) throw new UsageError("expected exactly one model name");
  return args.positional[0];
}

function info(args: Args, print: Print): void {
  onlyFlags(args, []);
  const i = modelInfo(oneName(args));
  print(`${i.name}  (${i.architecture}, plugin ${i.plugin}, ${i.source})`);
  print(`  params         ${i.params.toLocaleString("en-US")} (${human(i.params)})`);
  print(`  FLOPs          ${human(i.flops)} per ${i.per}`);
  for (const [key, value] of Object.entries(i.card)) {
    print(`  ${key.padEnd(15)}${typeof value === "string" ? value : JSON.stringify(value)}`);
  }
}

function modelOptions(args: Args): { device: "cpu" | "cuda" | "auto"; dtype: DType; weights?: string } {
  const device = flagString(args, "device") ?? "auto";
  if (device !== "cpu" && device !== "cuda" && device !== "auto") {
    throw new UsageError(`--device must be cpu, cuda or auto`);
  }
  const dtype = flagString(args, "dtype") ?? "f32";
  if (dtype !== "f32" && dtype !== "f16" && dtype !== "bf16") throw new UsageError(`--dtype must be f32, f16 or bf16`);
  return { device, dtype, weights: flagString(args, "weights") };
}

function parseTokens(text: string): number[] {
  const ids = text.split(",").map((t) => Number(t.trim()));
  if (ids.length === 0 || ids.some((t) => !Number.isInteger(t) || t < 0)) {
    throw new UsageError(`--tokens must be comma-separated non-negative integers, got "${text}"`);
  }
  return ids;
}

/** The card's per-channel normalisation, when it holds three positive-or-zero numbers. */
function channelStats(value: unknown, fallback: readonly number[]): readonly number[] {
  return Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === "number" && Number.isFinite(v))
    ? value as number[]
    : fallback;
}

function readImage(path: string, size: number, card: Record<string, unknown>): Tensor {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new ImageError(path, `cannot read image (${(err as Error).message})`);
  }
  const image = bytes[0] === 0xff && bytes[1] === 0xd8 ? decodeJpeg(bytes, path) : decodePng(bytes, path);
  const mean = channelStats(card.mean, IMAGENET_MEAN);
  const std = channelStats(card.std, IMAGENET_STD);
  const chw = new Float32Array(3 * image.width * image.height);
  const plane = image.width * image.height;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) chw[c * plane + i] = (image.rgb[i * 3 + c] / 255 - mean[c]) / std[c];
  }
  // resize the shorter side to size / 0.875, then centre-crop size × size (timm's eval transform)
  using full = tensor(chw, { shape: [1, 3, image.height, image.width] });
  const scale = Math.round(size / 0.875) / Math.min(image.height, image.width);
  const h = Math.max(size, Math.round(image.height * scale));
  const w = Math.max(size, Math.round(image.width * scale));
  using resized = resizeBilinear(full, [h, w]);
  using rows = narrow(resized, 2, Math.floor((h - size) / 2), size);
  return narrow(rows, 3, Math.floor((w - size) / 2), size);
}

function topK(probs: Float32Array, k: number): [number, number][] {
  return [...probs.keys()].sort((a, b) => probs[b] - probs[a]).slice(0, k).map((i) => [i, probs[i]]);
}

function run(args: Args, print: Print): void {
  onlyFlags(args, [
    "weights",
    "image",
    "tokens",
    "max-new",
    "device",
    "dtype",
    "seed",
    "temperature",
    "top-k",
    "top-p",
  ]);
  const name = oneName(args);
  const config = modelConfig(name);
  // every argument is checked, and the image read, before the (slow) model build
  const request = config.architecture === "lm" ? generationRequest(args, config as LmConfig) : undefined;
  const size = (config as { imageSize?: number }).imageSize ?? 224;
  const imagePath = flagString(args, "image");
  using host = request !== undefined
    ? undefined
    : imagePath !== undefined
    ? readImage(imagePath, size, config.card)
    : randn([1, 3, size, size], { seed: 1 });
  const start = performance.now();
  using model = createModel(name, modelOptions(args));
  print(`${name}: built on ${model.device} in ${(performance.now() - start).toFixed(0)} ms`);
  if (model instanceof LanguageModel) return generate(model, request!, print);
  using images = toDevice(host!, model.device);
  const t0 = performance.now();
  using logits = (model as Model & { forward(x: Tensor): Tensor }).forward(images);
  using probs = softmax(logits, -1);
  const elapsed = performance.now() - t0;
  print(`forward: ${elapsed.toFixed(1)} ms${imagePath === undefined ? " (random image)" : ""}`);
  for (const [cls, p] of topK(probs.toFloat32Array(), 5)) {
    print(`  class ${String(cls).padStart(4)}  ${(100 * p).toFixed(2)}%`);
  }
}

interface GenerationRequest {
  tokens: number[];
  options: GenerateOptions;
}

function generationRequest(args: Args, config: LmConfig): GenerationRequest {
  const tokens = parseTokens(flagString(args, "tokens") ?? "1");
  const bad = tokens.find((t) => t >= config.vocabSize);
  if (bad !== undefined) throw new UsageError(`token ${bad} is outside the vocabulary of ${config.vocabSize}`);
  const temperature = Number(flagString(args, "temperature") ?? 0);
  const topP = Number(flagString(args, "top-p") ?? 1);
  if (!(temperature >= 0)) throw new UsageError(`--temperature must be ≥ 0`);
  if (!(topP > 0 && topP <= 1)) throw new UsageError(`--top-p must be in (0, 1]`);
  return {
    tokens,
    options: {
      maxNew: flagInt(args, "max-new", 16),
      temperature,
      topK: flagInt(args, "top-k", 1_000_000_000),
      topP,
      seed: flagInt(args, "seed", 0, 0),
    },
  };
}

function generate(model: LanguageModel, { tokens, options }: GenerationRequest, print: Print): void {
  const t0 = performance.now();
  const [out] = model.generate([tokens], options);
  const seconds = (performance.now() - t0) / 1000;
  print(`prompt:    ${tokens.join(",")}`);
  print(`generated: ${out.join(",")}`);
  const mode = (options.temperature ?? 0) > 0 ? "sampled" : "greedy";
  print(`${(out.length / seconds).toFixed(1)} tokens/s (${mode}, prefill included)`);
}

function bench(args: Args, print: Print): void {
  onlyFlags(args, ["batch", "tokens", "runs", "device", "dtype"]);
  const name = oneName(args);
  const config = modelConfig(name);
  const batch = flagInt(args, "batch", 1);
  const runs = flagInt(args, "runs", 3);
  const tokens = flagInt(args, "tokens", 128);
  const isLm = config.architecture === "lm";
  const size = (config as { imageSize?: number }).imageSize ?? 224;
  const vocab = (config as { vocabSize?: number }).vocabSize ?? 1;
  using host = isLm
    ? tensor(Int32Array.from({ length: batch * tokens }, (_, i) => (i * 7919) % vocab), { shape: [batch, tokens] })
    : randn([batch, 3, size, size], { seed: 1 });
  using model = createModel(name, modelOptions(args)) as Model & { forward(x: Tensor): Tensor };
  using x = toDevice(host, model.device);
  const forward = (): void => {
    using out = model.forward(x);
    using flat = out.reshape([-1]);
    using first = narrow(flat, 0, 0, 1);
    first.toFloat32Array(); // reading one value back waits for the device
  };
  forward();
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    forward();
    times.push(performance.now() - t0);
  }
  const median = times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
  const items = isLm ? batch * tokens : batch;
  print(
    `${name} on ${model.device}: ${median.toFixed(1)} ms per forward (median of ${runs}), ` +
      `${(items / (median / 1000)).toFixed(1)} ${isLm ? "tokens" : "images"}/s`,
  );
}
