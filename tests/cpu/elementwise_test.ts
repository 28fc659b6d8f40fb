import { cpuBackend } from "../../core/backends/cpu/cpu_backend.ts";
import { ConfigError, DTypeError, ShapeError } from "../../core/errors.ts";
import { add, affine, div, exp, gelu, mul, relu, sigmoid, silu, softplus, sub, tanh } from "../../core/ops.ts";
import { tensor } from "../../core/tensor.ts";
import { assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { test } from "../_harness.ts";
import { flatIndex, indices, random } from "./_reference.ts";

test("cpu binary: add/sub/mul/div broadcast over size-1 and missing dims", () => {
  const pairs: [number[], number[]][] = [
    [[2, 3, 4], [2, 3, 4]],
    [[2, 3, 4], [4]],
    [[2, 1, 4], [3, 1]],
    [[1], [5, 2]],
    [[3, 1, 5], [1, 4, 1]],
    [[], [2, 2]],
  ];
  const ops = {
    add: (x: number, y: number) => x + y,
    sub: (x: number, y: number) => x - y,
    mul: (x: number, y: number) => x * y,
    div: (x: number, y: number) => x / y,
  };
  const fns = { add, sub, mul, div };
  let seed = 0;
  for (const [sa, sb] of pairs) {
    using a = random(sa, seed++);
    using b = random(sb, seed++);
    const outShape = sa.length >= sb.length ? [...sa] : [...sb];
    for (let i = 1; i <= Math.min(sa.length, sb.length); i++) {
      outShape[outShape.length - i] = Math.max(sa[sa.length - i], sb[sb.length - i]);
    }
    const av = a.toTypedArray();
    const bv = b.toTypedArray();
    for (const name of ["add", "sub", "mul", "div"] as const) {
      using c = fns[name](a, b);
      assertEquals(c.shape, outShape, `${name} shape`);
      const expected: number[] = [];
      for (const index of indices(outShape)) {
        const pick = (shape: number[]) => shape.map((s, d) => (s === 1 ? 0 : index[index.length - shape.length + d]));
        expected.push(ops[name](av[flatIndex(sa, pick(sa))], bv[flatIndex(sb, pick(sb))]));
      }
      assertClose(c.toTypedArray(), expected, { rtol: 1e-6, atol: 0 }, `${name} ${sa} ${sb}`);
    }
  }
});

test("cpu binary: mismatched shapes and dtypes throw naming op and shapes", () => {
  using a = random([2, 3], 1);
  using b = random([4], 2);
  assertThrows(() => add(a, b), ShapeError, "add", "[2, 3]", "[4]");
  using h = random([2, 3], 3, "bf16");
  assertThrows(() => mul(a, h), DTypeError, "mul", "f32", "bf16", "[2, 3]");
  using i = tensor(new Int32Array(6), { shape: [2, 3] });
  assertThrows(() => sub(i, i), DTypeError, "sub", "i32");
});

test("cpu unary: every function against Math at ordinary and extreme values", () => {
  const values = [-1000, -30, -2.5, -1, -0.1, 0, 0.1, 1, 2.5, 30, 1000];
  using x = tensor(values);
  const f32 = (v: number) => Math.fround(v);
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const expected: Record<string, (v: number) => number> = {
    exp: Math.exp,
    sigmoid: sig,
    relu: (v) => Math.max(v, 0),
    tanh: Math.tanh,
    silu: (v) => v * sig(v),
    neg: (v) => -v,
    abs: Math.abs,
  };
  for (const [op, f] of Object.entries(expected)) {
    using y = cpuBackend.unary(op as "exp", x);
    assertClose(y.toTypedArray(), values.map((v) => f32(f(v))), { rtol: 1e-6, atol: 1e-30 }, op);
  }
  using s = sigmoid(x);
  assertEquals(s.toTypedArray()[0], 0, "sigmoid(-1000) underflows to 0, not NaN");
  using pos = tensor([0.25, 1, 4, 100]);
  using r = cpuBackend.unary("sqrt", pos);
  assertClose(r.toTypedArray(), [0.5, 1, 2, 10], { rtol: 0, atol: 0 });
  using q = cpuBackend.unary("rsqrt", pos);
  assertClose(q.toTypedArray(), [2, 1, 0.5, 0.1], { rtol: 1e-7, atol: 0 });
  using l = cpuBackend.unary("log", pos);
  assertClose(l.toTypedArray(), [-2 * Math.LN2, 0, 2 * Math.LN2, Math.log(100)].map(f32), { rtol: 1e-7, atol: 0 });
  // angles up to 1000 rad: LRPE angles θ·t grow with the position
  for (const [op, f] of [["cos", Math.cos], ["sin", Math.sin]] as const) {
    using y = cpuBackend.unary(op, x);
    assertClose(y.toTypedArray(), values.map((v) => f32(f(f32(v)))), { rtol: 1e-6, atol: 1e-7 }, op);
  }
  using e = exp(tensor([1]));
  assertClose(e.toTypedArray(), [Math.fround(Math.E)], { rtol: 0, atol: 0 });
  using t = tanh(tensor([0.5]));
  assertClose(t.toTypedArray(), [Math.fround(Math.tanh(0.5))], { rtol: 0, atol: 0 });
  using z = relu(tensor([NaN, -0.5]));
  assertEquals(Number.isNaN(z.toTypedArray()[0]), true, "relu keeps NaN");
  using si = silu(tensor([1]));
  assertClose(si.toTypedArray(), [0.7310585786300049], { rtol: 1e-7, atol: 0 });
});

test("cpu affine: x·alpha + beta, beta defaulting to 0", () => {
  using x = tensor([1, -2, 0.5]);
  using y = affine(x, 3, 1);
  assertEquals([...y.toTypedArray()], [4, -5, 2.5]);
  using z = affine(x, -2);
  assertEquals([...z.toTypedArray()], [-2, 4, -1]);
});

test("cpu gelu: exact (erf) and tanh forms at known values", () => {
  using x = tensor([-3, -1, -0.5, 0, 0.5, 1, 2, 3, 5]);
  using exact = gelu(x);
  // x·Φ(x) with Φ from high-precision erf values
  const phi = [
    0.0013498980316301,
    0.15865525393145707,
    0.3085375387259869,
    0.5,
    0.6914624612740131,
    0.8413447460685429,
    0.9772498680518208,
    0.9986501019683699,
    0.9999997133484281,
  ];
  const expected = [-3, -1, -0.5, 0, 0.5, 1, 2, 3, 5].map((v, i) => v * phi[i]);
  assertClose(exact.toTypedArray(), expected, { rtol: 1e-7, atol: 1e-9 }, "gelu erf");
  assertClose([exact.toTypedArray()[5]], [Math.fround(0.8413447460685429)], { rtol: 0, atol: 0 }, "gelu(1)");
  using approx = gelu(x, "tanh");
  const tanhForm = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
  assertClose(approx.toTypedArray(), [-3, -1, -0.5, 0, 0.5, 1, 2, 3, 5].map(tanhForm), { rtol: 1e-6, atol: 1e-9 });
  assertClose([approx.toTypedArray()[5]], [0.8411919906082768], { rtol: 1e-7, atol: 0 }, "tanh gelu(1)");
  // deno-lint-ignore no-explicit-any
  assertThrows(() => gelu(x, "fast" as any), ConfigError, "gelu", "approximate", "fast");
});

test("cpu gelu: erf accurate to 1e-7 on a dense grid (against Φ via a midpoint-rule integral)", () => {
  const grid = Array.from({ length: 81 }, (_, i) => -8 + i * 0.2);
  using y = gelu(tensor(grid));
  // Φ(v) = 1/2 + ∫₀^v φ(t) dt, integrated finely with Simpson's rule in doubles.
  const phi = (v: number) => {
    const steps = 2000;
    const h = v / steps;
    const pdf = (t: number) => Math.exp(-t * t / 2) / Math.sqrt(2 * Math.PI);
    let s = pdf(0) + pdf(v);
    for (let i = 1; i < steps; i++) s += (i % 2 === 1 ? 4 : 2) * pdf(i * h);
    return 0.5 + (s * h) / 3;
  };
  assertClose(y.toTypedArray(), grid.map((v) => v * phi(v)), { rtol: 2e-7, atol: 1e-7 });
});

test("cpu softplus: log1p(exp(βx))/β below the threshold, x above it", () => {
  using x = tensor([-50, -1, 0, 1, 10, 19.9, 20.5, 100]);
  using y = softplus(x);
  const ref = (v: number, beta: number, threshold: number) =>
    v * beta > threshold ? v : Math.log1p(Math.exp(v * beta)) / beta;
  assertClose(y.toTypedArray(), [-50, -1, 0, 1, 10, 19.9, 20.5, 100].map((v) => ref(v, 1, 20)), {
    rtol: 1e-6,
    atol: 1e-30,
  });
  assertClose([y.toTypedArray()[2]], [Math.LN2], { rtol: 1e-7, atol: 0 }, "softplus(0) = ln 2");
  using z = softplus(x, 2, 5);
  // with β = 2, threshold 5: 10·2 > 5 → linear; 1·2 = 2 ≤ 5 → log1p(e²)/2
  assertClose([z.toTypedArray()[3], z.toTypedArray()[4]], [Math.log1p(Math.exp(2)) / 2, 10], { rtol: 1e-6, atol: 0 });
  assertClose(z.toTypedArray(), [-50, -1, 0, 1, 10, 19.9, 20.5, 100].map((v) => ref(v, 2, 5)), {
    rtol: 1e-6,
    atol: 1e-30,
  });
});
