// Elementwise ops: broadcasting binary arithmetic, affine, unary functions, GELU and softplus.
import type { BinaryOp, UnaryOp } from "../../backend.ts";
import { ConfigError } from "../../errors.ts";
import type { Tensor } from "../../tensor.ts";
import { broadcastOffsets, broadcastShapes, broadcastStrides } from "./_broadcast.ts";
import { erf } from "./_erf.ts";
import { floatDType, output, readFloat, sameDType } from "./_io.ts";

const combine: Record<BinaryOp, (x: number, y: number) => number> = {
  add: (x, y) => x + y,
  sub: (x, y) => x - y,
  mul: (x, y) => x * y,
  div: (x, y) => x / y,
};

/** `a op b` with broadcasting. */
export function binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const dtype = sameDType(op, a, b);
  floatDType(op, a);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const x = readFloat(op, a);
  const y = readFloat(op, b);
  const out = output(shape, dtype);
  const values = out.values;
  const f = combine[op];
  if (shape.length === 0 || (a.size === b.size && a.size === values.length)) {
    for (let i = 0; i < values.length; i++) values[i] = f(x[i], y[i]);
    return out.finish();
  }
  // Outer dims through offset tables, the last dim as a strided inner loop.
  const inner = shape[shape.length - 1];
  const outer = shape.slice(0, -1);
  const stridesA = broadcastStrides(a.shape, shape);
  const stridesB = broadcastStrides(b.shape, shape);
  const offsetsA = broadcastOffsets(stridesA.slice(0, -1), outer);
  const offsetsB = broadcastOffsets(stridesB.slice(0, -1), outer);
  const stepA = stridesA[shape.length - 1];
  const stepB = stridesB[shape.length - 1];
  for (let row = 0, o = 0; row < offsetsA.length; row++) {
    let ia = offsetsA[row];
    let ib = offsetsB[row];
    for (let j = 0; j < inner; j++, o++, ia += stepA, ib += stepB) values[o] = f(x[ia], y[ib]);
  }
  return out.finish();
}

function map(op: string, x: Tensor, f: (v: number) => number): Tensor {
  const dtype = floatDType(op, x);
  const input = readFloat(op, x);
  const out = output(x.shape, dtype);
  const values = out.values;
  for (let i = 0; i < values.length; i++) values[i] = f(input[i]);
  return out.finish();
}

/** `x·alpha + beta`. */
export function affine(x: Tensor, alpha: number, beta = 0): Tensor {
  return map("affine", x, (v) => v * alpha + beta);
}

function sigmoid(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v); // avoids exp overflow for very negative v
  return e / (1 + e);
}

const unaryFunctions: Record<UnaryOp, (v: number) => number> = {
  exp: Math.exp,
  sigmoid,
  relu: (v) => (v > 0 ? v : v === v ? 0 : v), // NaN passes through, as in PyTorch
  tanh: Math.tanh,
  silu: (v) => v * sigmoid(v),
  neg: (v) => -v,
  sqrt: Math.sqrt,
  rsqrt: (v) => 1 / Math.sqrt(v),
  abs: Math.abs,
  log: Math.log,
  cos: Math.cos,
  sin: Math.sin,
};

/** Elementwise `op(x)`. */
export function unary(op: UnaryOp, x: Tensor): Tensor {
  return map(op, x, unaryFunctions[op]);
}

const SQRT_HALF = Math.SQRT1_2;
const SQRT_TWO_OVER_PI = Math.sqrt(2 / Math.PI);

/** GELU: x·Φ(x) with erf, or PyTorch's tanh approximation. */
export function gelu(x: Tensor, approximate: "none" | "tanh" = "none"): Tensor {
  if (approximate === "tanh") {
    return map("gelu", x, (v) => 0.5 * v * (1 + Math.tanh(SQRT_TWO_OVER_PI * (v + 0.044715 * v * v * v))));
  }
  if (approximate !== "none") {
    throw new ConfigError("gelu", "approximate", `expected "none" or "tanh", got "${approximate}"`);
  }
  return map("gelu", x, (v) => 0.5 * v * (1 + erf(v * SQRT_HALF)));
}

/** log(1 + exp(βx))/β, and x itself where βx > threshold (PyTorch's rule). */
export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  return map("softplus", x, (v) => (v * beta > threshold ? v : Math.log1p(Math.exp(v * beta)) / beta));
}
