// Batched matmul: checks shapes, broadcasts batch dims, and hands the product to the gemm pool.
import type { MatmulOptions } from "../../backend.ts";
import { ShapeError } from "../../errors.ts";
import { fmtShape, type Tensor } from "../../tensor.ts";
import { broadcastOffsets, broadcastShapes, broadcastStrides } from "./_broadcast.ts";
import { floatDType, output, readFloat, sameDType } from "./_io.ts";
import { runGemm } from "./_worker_pool.ts";

/** `op(a) @ op(b)` over broadcast batch dims. */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  const scale = options.scale ?? 1;
  const dtype = sameDType("matmul", a, b);
  floatDType("matmul", a);
  const describe = (): string => `${fmtShape(a.shape)}${transA ? "ᵀ" : ""} @ ${fmtShape(b.shape)}${transB ? "ᵀ" : ""}`;
  if (a.ndim < 2 || b.ndim < 2) throw new ShapeError("matmul", `needs at least 2-d inputs, got ${describe()}`);
  const [ra, ca] = a.shape.slice(-2);
  const [rb, cb] = b.shape.slice(-2);
  const [m, k] = transA ? [ca, ra] : [ra, ca];
  const [kb, n] = transB ? [cb, rb] : [rb, cb];
  if (k !== kb) throw new ShapeError("matmul", `inner dims differ (${k} vs ${kb}) in ${describe()}`);
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  let batch: number[];
  try {
    batch = broadcastShapes("matmul", batchA, batchB);
  } catch {
    throw new ShapeError("matmul", `batch dims do not broadcast in ${describe()}`);
  }
  const aOffsets = broadcastOffsets(broadcastStrides(batchA, batch).map((s) => s * m * k), batch);
  const bOffsets = broadcastOffsets(broadcastStrides(batchB, batch).map((s) => s * k * n), batch);
  const out = output([...batch, m, n], dtype);
  runGemm({
    a: readFloat("matmul", a),
    b: readFloat("matmul", b),
    c: out.values,
    aOffsets,
    bOffsets,
    m,
    n,
    k,
    transA,
    transB,
  });
  if (scale !== 1) {
    const values = out.values;
    for (let i = 0; i < values.length; i++) values[i] *= scale;
  }
  return out.finish();
}
