// The matmul kernel shared by the main thread and the workers: one rectangle of a batched
// product's output, cache-blocked with packed panels and a 4×4 register-blocked micro-kernel.
// Accumulators are JS doubles; C is f32, so each KC-deep partial sum is rounded once.

/** One batched product C[t] = op(A[t]) · op(B[t]); rows are numbered across batches. */
export interface GemmJob {
  /** A's elements; batch t starts at `aOffsets[t]`. */
  a: Float32Array;
  /** B's elements; batch t starts at `bOffsets[t]`. */
  b: Float32Array;
  /** Output, `batches · m · n` elements, batch-major, row-major. */
  c: Float32Array;
  aOffsets: Int32Array;
  bOffsets: Int32Array;
  m: number;
  n: number;
  k: number;
  /** A is stored [K, M] (use its transpose). */
  transA: boolean;
  /** B is stored [N, K] (use its transpose). */
  transB: boolean;
}

const MR = 4;
const NR = 4;
const KC = 256;
const MC = 64;
const NC = 512;

// Per-thread scratch; every worker has its own module instance.
let packedA = new Float32Array(MC * KC);
let packedB = new Float32Array(KC * NC);
let rowSums = new Float64Array(NC);
const tile = new Float64Array(MR * NR);

/** A rectangle of the output: rows numbered across batches (row r is row r mod m of batch ⌊r/m⌋). */
export interface GemmPart {
  rowStart: number;
  rowEnd: number;
  colStart: number;
  colEnd: number;
}

// One batch's operands: element (i, p) of op(A) is a[aOffset + i·aRowStride + p·aColStride], and
// likewise for op(B); C is row-major with n columns from cOffset.
interface Operands {
  a: Float32Array;
  aOffset: number;
  aRowStride: number;
  aColStride: number;
  b: Float32Array;
  bOffset: number;
  bRowStride: number;
  bColStride: number;
  c: Float32Array;
  cOffset: number;
  n: number;
  k: number;
}

/** Computes one rectangle of the job's output. */
export function gemmPart(job: GemmJob, part: GemmPart): void {
  const { m, n, k } = job;
  const { rowStart, rowEnd, colStart, colEnd } = part;
  if (m === 0 || colStart >= colEnd) return;
  for (let batch = Math.floor(rowStart / m); batch * m < rowEnd; batch++) {
    const first = Math.max(rowStart - batch * m, 0);
    const last = Math.min(rowEnd - batch * m, m);
    const cOffset = batch * m * n;
    if (k === 0) {
      for (let i = first; i < last; i++) job.c.fill(0, cOffset + i * n + colStart, cOffset + i * n + colEnd);
      continue;
    }
    const operands: Operands = {
      a: job.a,
      aOffset: job.aOffsets[batch],
      aRowStride: job.transA ? 1 : k,
      aColStride: job.transA ? m : 1,
      b: job.b,
      bOffset: job.bOffsets[batch],
      bRowStride: job.transB ? 1 : n,
      bColStride: job.transB ? k : 1,
      c: job.c,
      cOffset,
      n,
      k,
    };
    if (m < MR) gemmSkinny(operands, first, last, colStart, colEnd);
    else gemmBlock(operands, first, last, colStart, colEnd);
  }
}

function gemmBlock(ops: Operands, rowStart: number, rowEnd: number, colStart: number, colEnd: number): void {
  const { a, aOffset, aRowStride, aColStride, b, bOffset, bRowStride, bColStride, c, cOffset, n, k } = ops;
  for (let jc = colStart; jc < colEnd; jc += NC) {
    const nc = Math.min(NC, colEnd - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      packB(b, bOffset + pc * bRowStride + jc * bColStride, bRowStride, bColStride, kc, nc);
      for (let ic = rowStart; ic < rowEnd; ic += MC) {
        const mc = Math.min(MC, rowEnd - ic);
        packA(a, aOffset + ic * aRowStride + pc * aColStride, aRowStride, aColStride, mc, kc);
        for (let jr = 0; jr < nc; jr += NR) {
          const cols = Math.min(NR, nc - jr);
          for (let ir = 0; ir < mc; ir += MR) {
            const rows = Math.min(MR, mc - ir);
            const base = cOffset + (ic + ir) * n + jc + jr;
            microKernel(packedA, ir * kc, packedB, jr * kc, kc, c, base, n, rows === MR && cols === NR, pc === 0);
            if (rows < MR || cols < NR) storeEdge(c, base, n, rows, cols, pc === 0);
          }
        }
      }
    }
  }
}

// Fewer rows than a micro-kernel (matrix-vector products): packing would cost as much as the
// math, so sum straight from the inputs, along B's contiguous dim.
function gemmSkinny(ops: Operands, rowStart: number, rowEnd: number, colStart: number, colEnd: number): void {
  const { a, aOffset, aRowStride, aColStride, b, bOffset, bRowStride, bColStride, c, cOffset, n, k } = ops;
  if (rowSums.length < n) rowSums = new Float64Array(n);
  const sums = rowSums;
  for (let i = rowStart; i < rowEnd; i++) {
    const aRow = aOffset + i * aRowStride;
    const cRow = cOffset + i * n;
    if (bColStride === 1) {
      // B rows are contiguous: C[i, :] = Σ_p A[i, p] · B[p, :]
      sums.fill(0, colStart, colEnd);
      for (let p = 0; p < k; p++) {
        const x = a[aRow + p * aColStride];
        const bRow = bOffset + p * bRowStride;
        for (let j = colStart; j < colEnd; j++) sums[j] += x * b[bRow + j];
      }
      for (let j = colStart; j < colEnd; j++) c[cRow + j] = sums[j];
    } else {
      // B columns are contiguous (transB): C[i, j] = A[i, :] · B[:, j]
      for (let j = colStart; j < colEnd; j++) {
        const bCol = bOffset + j * bColStride;
        let s0 = 0, s1 = 0;
        let p = 0;
        for (; p + 1 < k; p += 2) {
          s0 += a[aRow + p * aColStride] * b[bCol + p];
          s1 += a[aRow + (p + 1) * aColStride] * b[bCol + p + 1];
        }
        if (p < k) s0 += a[aRow + p * aColStride] * b[bCol + p];
        c[cRow + j] = s0 + s1;
      }
    }
  }
}

// B[pc.., jc..] (kc × nc) into column panels of NR: panel p holds, for each k, NR values.
function packB(b: Float32Array, offset: number, rowStride: number, colStride: number, kc: number, nc: number): void {
  const need = kc * Math.ceil(nc / NR) * NR;
  if (packedB.length < need) packedB = new Float32Array(need);
  const out = packedB;
  let o = 0;
  for (let j = 0; j < nc; j += NR) {
    const cols = Math.min(NR, nc - j);
    for (let p = 0; p < kc; p++) {
      const src = offset + p * rowStride + j * colStride;
      for (let q = 0; q < cols; q++) out[o + q] = b[src + q * colStride];
      for (let q = cols; q < NR; q++) out[o + q] = 0;
      o += NR;
    }
  }
}

// A[ic.., pc..] (mc × kc) into row panels of MR: panel p holds, for each k, MR values.
function packA(a: Float32Array, offset: number, rowStride: number, colStride: number, mc: number, kc: number): void {
  const need = kc * Math.ceil(mc / MR) * MR;
  if (packedA.length < need) packedA = new Float32Array(need);
  const out = packedA;
  let o = 0;
  for (let i = 0; i < mc; i += MR) {
    const rows = Math.min(MR, mc - i);
    for (let p = 0; p < kc; p++) {
      const src = offset + i * rowStride + p * colStride;
      for (let q = 0; q < rows; q++) out[o + q] = a[src + q * rowStride];
      for (let q = rows; q < MR; q++) out[o + q] = 0;
      o += MR;
    }
  }
}

// 4×4 block of products over kc in 16 scalar accumulators the JIT keeps in registers; a full
// tile goes straight to C, an edge tile through `tile`.
function microKernel(
  pa: Float32Array,
  aStart: number,
  pb: Float32Array,
  bStart: number,
  kc: number,
  c: Float32Array,
  base: number,
  ldc: number,
  full: boolean,
  overwrite: boolean,
): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  let ai = aStart;
  let bi = bStart;
  for (let p = 0; p < kc; p++) {
    const b0 = pb[bi], b1 = pb[bi + 1], b2 = pb[bi + 2], b3 = pb[bi + 3];
    let x = pa[ai];
    c00 += x * b0, c01 += x * b1, c02 += x * b2, c03 += x * b3;
    x = pa[ai + 1];
    c10 += x * b0, c11 += x * b1, c12 += x * b2, c13 += x * b3;
    x = pa[ai + 2];
    c20 += x * b0, c21 += x * b1, c22 += x * b2, c23 += x * b3;
    x = pa[ai + 3];
    c30 += x * b0, c31 += x * b1, c32 += x * b2, c33 += x * b3;
    ai += MR;
    bi += NR;
  }
  if (!full) {
    const t = tile;
    t[0] = c00, t[1] = c01, t[2] = c02, t[3] = c03;
    t[4] = c10, t[5] = c11, t[6] = c12, t[7] = c13;
    t[8] = c20, t[9] = c21, t[10] = c22, t[11] = c23;
    t[12] = c30, t[13] = c31, t[14] = c32, t[15] = c33;
    return;
  }
  const r0 = base, r1 = base + ldc, r2 = base + 2 * ldc, r3 = base + 3 * ldc;
  if (!overwrite) {
    c00 += c[r0], c01 += c[r0 + 1], c02 += c[r0 + 2], c03 += c[r0 + 3];
    c10 += c[r1], c11 += c[r1 + 1], c12 += c[r1 + 2], c13 += c[r1 + 3];
    c20 += c[r2], c21 += c[r2 + 1], c22 += c[r2 + 2], c23 += c[r2 + 3];
    c30 += c[r3], c31 += c[r3 + 1], c32 += c[r3 + 2], c33 += c[r3 + 3];
  }
  c[r0] = c00, c[r0 + 1] = c01, c[r0 + 2] = c02, c[r0 + 3] = c03;
  c[r1] = c10, c[r1 + 1] = c11, c[r1 + 2] = c12, c[r1 + 3] = c13;
  c[r2] = c20, c[r2 + 1] = c21, c[r2 + 2] = c22, c[r2 + 3] = c23;
  c[r3] = c30, c[r3 + 1] = c31, c[r3 + 2] = c32, c[r3 + 3] = c33;
}

function storeEdge(c: Float32Array, base: number, ldc: number, rows: number, cols: number, overwrite: boolean): void {
  for (let i = 0; i < rows; i++) {
    const row = base + i * ldc;
    for (let j = 0; j < cols; j++) c[row + j] = overwrite ? tile[i * NR + j] : c[row + j] + tile[i * NR + j];
  }
}
