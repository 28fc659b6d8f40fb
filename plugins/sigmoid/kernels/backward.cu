// FlashSigmoid backward, deterministic mode, and the exported entry point (which picks this or the
// single pass of backward_fused.cu). Sigmoid weights need no softmax statistics, so both passes
// recompute P = σ(S) from Q and K alone and use dS = P ⊙ (1 − P) ⊙ dP (no rowsum(dO ⊙ O) pre-pass,
// O never read). Two kernels, no atomics, bit-reproducible:
//  - keys pass: one block per (K/V tile, kv head, batch), warps own 16 keys and loop over the
//    query tiles of every query head of their group: Sᵀ = K Qᵀ, dPᵀ = V dOᵀ, dV += Pᵀ dO, dK += dSᵀ Q;
//  - queries pass: one block per (Q tile, head, batch), warps own 16 queries: S = Q Kᵀ,
//    dP = dO Vᵀ, dQ += dS K.
// Keeping the reduced side in the rows means every weight block is already an A fragment of the
// next product, so no tile is transposed through shared memory. At d 256 each tile's gradients are
// computed in two 128-column halves by two blocks (BackwardTile<256>).
#include "_backward.cuh"
#include "_dispatch.cuh"
#include "_forward.cuh"
#include "_score.cuh"
#include "_status.cuh"
#include "_mma_tile.cuh"

namespace flash_sigmoid {

using namespace attnzoo::mma;

template <int D>
struct BackwardTile;
// 4 warps × 16 rows; the streamed tile is narrower at d = 128 so S and dP fit beside the f32
// accumulators (8 warps, or 128/32-wide tiles, measured no faster: NOTES.md).
template <>
struct BackwardTile<64> {
  static constexpr int WARPS = 4, BN = 64;
};
template <>
struct BackwardTile<128> {
  static constexpr int WARPS = 4, BN = 32;
};
// d 256: 16 × 256 f32 accumulators per warp would take 128 registers each, so a block computes its
// gradients for one 128-column half (HALVES blocks per tile, S and dP recomputed by each) and reads
// Q and dO from shared memory instead of holding their fragments.
template <>
struct BackwardTile<256> {
  static constexpr int WARPS = 4, BN = 32;
};

// Output columns per block and the number of column halves of a tile.
template <int D>
__host__ __device__ constexpr int output_cols() {
  return D < 128 ? D : 128;
}
template <int D>
__host__ __device__ constexpr int column_halves() {
  return D / output_cols<D>();
}

// HD: the head dim; the tiles are D = tile_dim(HD) wide.
template <typename T, int HD, bool CAUSAL, bool ALIBI>
__global__ void __launch_bounds__(BackwardTile<tile_dim(HD)>::WARPS * 32)
    keys_kernel(Problem p, const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                const T* __restrict__ dout, T* __restrict__ dk, T* __restrict__ dv) {
  constexpr int D = tile_dim(HD), COLS = output_cols<D>(), HALVES = column_halves<D>();
  constexpr int WARPS = BackwardTile<D>::WARPS, BQ = BackwardTile<D>::BN;
  constexpr int THREADS = WARPS * 32, BK = WARPS * 16;
  constexpr bool ACCURATE = AccurateSigmoid<T>::value;
  extern __shared__ __align__(128) unsigned char smem[];
  T* s_k = reinterpret_cast<T*>(smem);
  T* s_v = s_k + BK * D;
  T* s_q = s_v + BK * D;       // two stages of [BQ][D]
  T* s_do = s_q + 2 * BQ * D;  // two stages of [BQ][D]

  const int hk = blockIdx.y, b = blockIdx.z;
  const int k0 = static_cast<int>(blockIdx.x) / HALVES * BK;
  const int col0 = static_cast<int>(blockIdx.x) % HALVES * COLS;  // this block's output columns
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const KeyTileSteps<BQ, CAUSAL> tiles(p, b, hk, k0);
  const int nq = tiles.rows.nq, nk = tiles.rows.nk, offset = tiles.offset, steps = tiles.steps;
  if (k0 >= nk) return;  // a shorter sequence of a varlen batch
  const int64_t kv_base = tiles.kv_base();

  const SwizzledRows<D> layout;
  load_tile_async<BK, D, THREADS>(s_k, k + kv_base, p.kv_row, k0, nk, layout, HD);
  load_tile_async<BK, D, THREADS>(s_v, v + kv_base, p.kv_row, k0, nk, layout, HD);
  if (steps > 0) {
    load_tile_async<BQ, D, THREADS>(s_q, q + tiles.q_offset(0), p.q_row, tiles.q_row0(0), nq, layout, HD);
    load_tile_async<BQ, D, THREADS>(s_do, dout + tiles.q_offset(0), p.q_row, tiles.q_row0(0), nq, layout, HD);
  }
  cp_async_commit();
  float acc_dk[1][COLS / 8][4], acc_dv[1][COLS / 8][4];
  zero(acc_dk[0]);
  zero(acc_dv[0]);
  cp_async_wait_all();
  __syncthreads();

  const int key_row0 = k0 + warp * 16;
  for (int step = 0; step < steps; step++) {
    const int stage = step & 1;
    if (step + 1 < steps) {
      const int64_t next = tiles.q_offset(step + 1);
      load_tile_async<BQ, D, THREADS>(s_q + (stage ^ 1) * BQ * D, q + next, p.q_row, tiles.q_row0(step + 1), nq, layout,
                                      HD);
      load_tile_async<BQ, D, THREADS>(s_do + (stage ^ 1) * BQ * D, dout + next, p.q_row, tiles.q_row0(step + 1), nq,
                                      layout, HD);
      cp_async_commit();
    }
    const T* tile_q = s_q + stage * BQ * D;
    const T* tile_do = s_do + stage * BQ * D;
    const int i0 = tiles.q_row0(step);
    const HalfScore hs = half_score(p, b, tiles.head(step), ALIBI);
    float w[BQ / 8][4], ds[BQ / 8][4];
    zero(w);
    zero(ds);
    mma_rows_by_rows<BQ, D, T>(w, s_k, warp * 16, tile_q);
    mma_rows_by_rows<BQ, D, T>(ds, s_v, warp * 16, tile_do);
    // Queries past Nq were loaded as zeros (dO too), so their dS and dO rows add nothing.
    if (CAUSAL && key_row0 + 15 > i0 + offset) {
      sigmoid_weights<BQ, ALIBI, true, true, ACCURATE>(w, hs, key_row0, i0, offset);
    } else {
      sigmoid_weights<BQ, ALIBI, false, true, ACCURATE>(w, hs, key_row0, i0, offset);
    }
    sigmoid_grad<BQ>(ds, w);
    uint32_t frag[1][BQ / 16][4];
    to_a_fragments<BQ, T>(frag[0], w);
    mma_regs_by_tile<1, BQ, D, T, COLS>(acc_dv, frag, tile_do, col0);
    to_a_fragments<BQ, T>(frag[0], ds);
    mma_regs_by_tile<1, BQ, D, T, COLS>(acc_dk, frag, tile_q, col0);
    if (step + 1 < steps) {
      cp_async_wait_all();
      __syncthreads();
    }
  }
  // Each warp stages through the K and V rows only it read; narrower staging rows (a column half)
  // reach other warps' rows, so then every warp must be done reading them.
  if constexpr (HALVES > 1) __syncthreads();
  store_rows<COLS, T>(acc_dk[0], p.scale, s_k, warp * 16, dk + kv_base + col0, p.kv_row, key_row0, nk, HD - col0);
  store_rows<COLS, T>(acc_dv[0], 1.0f, s_v, warp * 16, dv + kv_base + col0, p.kv_row, key_row0, nk, HD - col0);
}

template <typename T, int HD, bool CAUSAL, bool ALIBI>
__global__ void __launch_bounds__(BackwardTile<tile_dim(HD)>::WARPS * 32)
    queries_kernel(Problem p, const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                   const T* __restrict__ dout, T* __restrict__ dq) {
  constexpr int D = tile_dim(HD), COLS = output_cols<D>(), HALVES = column_halves<D>();
  constexpr int WARPS = BackwardTile<D>::WARPS, BN = BackwardTile<D>::BN;
  constexpr int THREADS = WARPS * 32, BM = WARPS * 16;
  constexpr bool ACCURATE = AccurateSigmoid<T>::value;
  extern __shared__ __align__(128) unsigned char smem[];
  T* s_q = reinterpret_cast<T*>(smem);
  T* s_do = s_q + BM * D;
  T* s_k = s_do + BM * D;     // two stages of [BN][D]
  T* s_v = s_k + 2 * BN * D;  // two stages of [BN][D]

  const int tile = static_cast<int>(blockIdx.x) / HALVES, tiles = static_cast<int>(gridDim.x) / HALVES;
  const int m_tile = CAUSAL ? tiles - 1 - tile : tile;
  const int col0 = static_cast<int>(blockIdx.x) % HALVES * COLS;  // this block's dQ columns
  const int h = blockIdx.y, b = blockIdx.z;
  const int hk = h / (p.heads / p.kv_heads);
  const int m0 = m_tile * BM;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const BackwardRows rows = backward_rows(p, b);
  const int nq = rows.nq, nk = rows.nk, offset = nk - nq;
  if (m0 >= nq) return;  // a shorter sequence of a varlen batch
  const int64_t q_base = rows.q + static_cast<int64_t>(h) * p.q_head;
  const T* k_head = k + rows.kv + static_cast<int64_t>(hk) * p.k_head;
  const T* v_head = v + rows.kv + static_cast<int64_t>(hk) * p.k_head;

  const int key_end = CAUSAL ? min(nk, m0 + BM + offset) : nk;
  const int n_tiles = key_end > 0 ? (key_end + BN - 1) / BN : 0;

  const SwizzledRows<D> layout;
  load_tile_async<BM, D, THREADS>(s_q, q + q_base, p.q_row, m0, nq, layout, HD);
  load_tile_async<BM, D, THREADS>(s_do, dout + q_base, p.q_row, m0, nq, layout, HD);
  if (n_tiles > 0) {
    load_tile_async<BN, D, THREADS>(s_k, k_head, p.kv_row, 0, nk, layout, HD);
    load_tile_async<BN, D, THREADS>(s_v, v_head, p.kv_row, 0, nk, layout, HD);
  }
  cp_async_commit();
  const HalfScore hs = half_score(p, b, h, ALIBI);
  float acc[1][COLS / 8][4];
  zero(acc[0]);
  cp_async_wait_all();
  __syncthreads();
  // Q and dO fragments stay in registers up to d 128; at d 256 the products read them from shared memory.
  constexpr bool FRAGMENTS = HALVES == 1;
  uint32_t qf[1][FRAGMENTS ? D / 16 : 1][4], dof[1][FRAGMENTS ? D / 16 : 1][4];
  if constexpr (FRAGMENTS) {
    load_a<D>(qf[0], s_q, warp * 16);
    load_a<D>(dof[0], s_do, warp * 16);
  }

  const int row0 = m0 + warp * 16;
  for (int t = 0; t < n_tiles; t++) {
    const int stage = t & 1;
    if (t + 1 < n_tiles) {
      load_tile_async<BN, D, THREADS>(s_k + (stage ^ 1) * BN * D, k_head, p.kv_row, (t + 1) * BN, nk, layout, HD);
      load_tile_async<BN, D, THREADS>(s_v + (stage ^ 1) * BN * D, v_head, p.kv_row, (t + 1) * BN, nk, layout, HD);
      cp_async_commit();
    }
    const T* tile_k = s_k + stage * BN * D;
    const int n0 = t * BN;
    float w[1][BN / 8][4], ds[1][BN / 8][4];
    zero(w[0]);
    zero(ds[0]);
    if constexpr (FRAGMENTS) {
      mma_regs_by_rows<1, BN, D, T>(w, qf, tile_k);
      mma_regs_by_rows<1, BN, D, T>(ds, dof, s_v + stage * BN * D);
    } else {
      mma_rows_by_rows<BN, D, T>(w[0], s_q, warp * 16, tile_k);
      mma_rows_by_rows<BN, D, T>(ds[0], s_do, warp * 16, s_v + stage * BN * D);
    }
    // Keys past Nk were loaded as zeros (V too), so their dS is 0 and K rows add nothing.
    if (CAUSAL && n0 + BN - 1 > row0 + offset) {
      sigmoid_weights<BN, ALIBI, true, false, ACCURATE>(w[0], hs, row0, n0, offset);
    } else {
      sigmoid_weights<BN, ALIBI, false, false, ACCURATE>(w[0], hs, row0, n0, offset);
    }
    sigmoid_grad<BN>(ds[0], w[0]);
    uint32_t frag[1][BN / 16][4];
    to_a_fragments<BN, T>(frag[0], ds[0]);
    mma_regs_by_tile<1, BN, D, T, COLS>(acc, frag, tile_k, col0);
    if (t + 1 < n_tiles) {
      cp_async_wait_all();
      __syncthreads();
    }
  }
  // Staging rows of a column half reach other warps' Q rows, which they may still read.
  if constexpr (HALVES > 1) __syncthreads();
  store_rows<COLS, T>(acc[0], p.scale, s_q, warp * 16, dq + q_base + col0, p.q_row, row0, nq, HD - col0);
}

template <typename T, int HD, bool CAUSAL, bool ALIBI>
int launch_backward(const Problem& p, const Gradients& g, cudaStream_t stream) {
  constexpr int D = tile_dim(HD);
  constexpr int WARPS = BackwardTile<D>::WARPS, BN = BackwardTile<D>::BN;
  constexpr int BM = WARPS * 16;
  constexpr int SMEM = (2 * BM * D + 4 * BN * D) * static_cast<int>(sizeof(T));
  const char* op = "sigmoid_backward";
  auto keys = keys_kernel<T, HD, CAUSAL, ALIBI>;
  auto queries = queries_kernel<T, HD, CAUSAL, ALIBI>;
  SIG_CUDA_CHECK(op, cudaFuncSetAttribute(keys, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
  SIG_CUDA_CHECK(op, cudaFuncSetAttribute(queries, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
  constexpr int HALVES = column_halves<D>();
  keys<<<dim3((p.nk + BM - 1) / BM * HALVES, p.kv_heads, p.batch), WARPS * 32, SMEM, stream>>>(
      p, az_ptr<const T>(g.q), az_ptr<const T>(g.k), az_ptr<const T>(g.v), az_ptr<const T>(g.dout), az_ptr<T>(g.dk),
      az_ptr<T>(g.dv));
  SIG_CUDA_CHECK(op, cudaGetLastError());
  queries<<<dim3((p.nq + BM - 1) / BM * HALVES, p.heads, p.batch), WARPS * 32, SMEM, stream>>>(
      p, az_ptr<const T>(g.q), az_ptr<const T>(g.k), az_ptr<const T>(g.v), az_ptr<const T>(g.dout), az_ptr<T>(g.dq));
  SIG_CUDA_CHECK(op, cudaGetLastError());
  return AZ_OK;
}

// The two-pass launch of every variant, for dispatch_variant.
struct Backward {
  const Problem& p;
  const Gradients& g;
  cudaStream_t stream;
  template <typename T, int HD, bool CAUSAL, bool ALIBI>
  int run() const {
    return launch_backward<T, HD, CAUSAL, ALIBI>(p, g, stream);
  }
};

}  // namespace flash_sigmoid

namespace flash_sigmoid {

// The two-pass kernels also take d 256 (a block per 128-column half).
using TwoPassHeadDims = HeadDims<32, 64, 96, 128, 256>;

// Packed variable-length sequences of a backward call: the offsets (device, int32) and the query rows.
struct Varlen {
  uint64_t cu_q, cu_k;
  int total_q;
};

static int backward(const char* op, bool allow_wgmma, int dtype, uint64_t q, uint64_t k, uint64_t v, uint64_t dout,
                    uint64_t dq, uint64_t dk, uint64_t dv, uint64_t dq_workspace, int batch, int heads, int kv_heads,
                    int nq, int nk, int head_dim, float scale, float bias, int causal, uint64_t alibi_slopes,
                    int slopes_batch_stride, int deterministic, uint64_t stream, const Varlen* varlen = nullptr) {
  Problem p;
  SIG_CHECK(make_problem(op, dtype, batch, heads, kv_heads, nq, nk, head_dim, scale, bias, alibi_slopes,
                         slopes_batch_stride, &p, TwoPassHeadDims::contains, "32, 64, 96, 128 or 256"));
  const Gradients g{q, k, v, dout, dq, dk, dv};
  const char* names[] = {"q", "k", "v", "dout", "dq", "dk", "dv", "dq_workspace"};
  const uint64_t handles[] = {q, k, v, dout, dq, dk, dv, dq_workspace};
  for (int i = 0; i < (deterministic ? 7 : 8); i++) SIG_CHECK(check_pointer(op, names[i], handles[i]));
  int64_t dq_elements = p.q_batch * p.batch;
  if (varlen != nullptr) {
    if (varlen->cu_q == 0 || varlen->cu_k == 0 || varlen->cu_q % 4 != 0 || varlen->cu_k % 4 != 0) {
      return fail(AZ_INVALID, op, "cu_seqlens_q (0x%llx) and cu_seqlens_k (0x%llx) must be non-null and 4-byte aligned",
                  (unsigned long long)varlen->cu_q, (unsigned long long)varlen->cu_k);
    }
    if (varlen->total_q < 1) return fail(AZ_INVALID, op, "total_q %d must be positive", varlen->total_q);
    p.cu_q = reinterpret_cast<const int*>(varlen->cu_q);
    p.cu_k = reinterpret_cast<const int*>(varlen->cu_k);
    dq_elements = static_cast<int64_t>(varlen->total_q) * p.q_row;
  }
  cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  // d 256 has only the two-pass kernels (its accumulators do not fit the single pass's warps).
  if (deterministic || !SinglePassHeadDims::contains(head_dim)) {
    return dispatch_variant<TwoPassHeadDims>(dtype, head_dim, causal != 0, p.slopes != nullptr, Backward{p, g, s});
  }
  int major = 0;
  if (allow_wgmma) SIG_CHECK(capability_major(op, &major));
  return backward_fused(p, dtype, head_dim, causal != 0, g, dq_workspace, dq_elements, major == 9, s);
}

}  // namespace flash_sigmoid

/**
 * Sigmoid attention backward: dq, dk, dv from q, k, v and dout (the gradient of o), with the
 * forward's layouts and arguments; dq is [batch, nq, heads, head_dim], dk/dv [batch, nk, kv_heads,
 * head_dim] (summed over each kv head's query heads); head_dim 32, 64, 96, 128 or 256. `deterministic`
 * != 0 runs the two-pass kernels (bit-reproducible; `dq_workspace` unused, may be 0), as does d 256
 * always; 0 runs the single pass (wgmma on compute capability 9.x, mma.sync elsewhere), which needs
 * `dq_workspace`: f32,
 * batch·nq·heads·head_dim elements, 16-byte aligned, owned by the caller (the TypeScript side takes
 * it from the runtime's caching allocator), overwritten. Returns 0, or a status with
 * attnzoo_sigmoid_last_error set.
 */
AZ_API int attnzoo_sigmoid_backward(int dtype, uint64_t q, uint64_t k, uint64_t v, uint64_t dout, uint64_t dq,
                                    uint64_t dk, uint64_t dv, uint64_t dq_workspace, int batch, int heads,
                                    int kv_heads, int nq, int nk, int head_dim, float scale, float bias, int causal,
                                    uint64_t alibi_slopes, int slopes_batch_stride, int deterministic,
                                    uint64_t stream) {
  return flash_sigmoid::backward("sigmoid_backward", true, dtype, q, k, v, dout, dq, dk, dv, dq_workspace, batch, heads, kv_heads, nq, nk,
                                 head_dim, scale, bias, causal, alibi_slopes, slopes_batch_stride, deterministic,
                                 stream);
}

/** attnzoo_sigmoid_backward with the single pass on mma.sync on every device (tests and benchmarks compare the two). */
AZ_API int attnzoo_sigmoid_backward_mma(int dtype, uint64_t q, uint64_t k, uint64_t v, uint64_t dout, uint64_t dq,
                                        uint64_t dk, uint64_t dv, uint64_t dq_workspace, int batch, int heads,
                                        int kv_heads, int nq, int nk, int head_dim, float scale, float bias,
                                        int causal, uint64_t alibi_slopes, int slopes_batch_stride, int deterministic,
                                        uint64_t stream) {
  return flash_sigmoid::backward("sigmoid_backward", false, dtype, q, k, v, dout, dq, dk, dv, dq_workspace, batch, heads, kv_heads, nq,
                                 nk, head_dim, scale, bias, causal, alibi_slopes, slopes_batch_stride, deterministic,
                                 stream);
}

/**
 * attnzoo_sigmoid_backward for variable-length batches (the gradient of attnzoo_sigmoid_forward_varlen):
 * q, dout, dq packed [total_q, heads, head_dim], k, v, dk, dv packed [total_k, kv_heads, head_dim];
 * cu_seqlens_q / cu_seqlens_k int32 device offsets of batch + 1 entries, max_seqlen_q / max_seqlen_k
 * bound every sequence, total_q = cu_seqlens_q[batch] (sizes the dQ workspace: total_q·heads·head_dim
 * floats). Each sequence is its own problem, as in the forward. Other arguments as attnzoo_sigmoid_backward.
 */
AZ_API int attnzoo_sigmoid_backward_varlen(int dtype, uint64_t q, uint64_t k, uint64_t v, uint64_t dout, uint64_t dq,
                                           uint64_t dk, uint64_t dv, uint64_t dq_workspace, uint64_t cu_seqlens_q,
                                           uint64_t cu_seqlens_k, int batch, int heads, int kv_heads, int total_q,
                                           int max_seqlen_q, int max_seqlen_k, int head_dim, float scale, float bias,
                                           int causal, uint64_t alibi_slopes, int slopes_batch_stride,
                                           int deterministic, uint64_t stream) {
  const flash_sigmoid::Varlen varlen{cu_seqlens_q, cu_seqlens_k, total_q};
  return flash_sigmoid::backward("sigmoid_backward_varlen", true, dtype, q, k, v, dout, dq, dk, dv, dq_workspace,
                                 batch, heads, kv_heads, max_seqlen_q, max_seqlen_k, head_dim, scale, bias, causal,
                                 alibi_slopes, slopes_batch_stride, deterministic, stream, &varlen);
}

/** attnzoo_sigmoid_backward_varlen with the single pass on mma.sync on every device (tests, benchmarks). */
AZ_API int attnzoo_sigmoid_backward_varlen_mma(int dtype, uint64_t q, uint64_t k, uint64_t v, uint64_t dout,
                                               uint64_t dq, uint64_t dk, uint64_t dv, uint64_t dq_workspace,
                                               uint64_t cu_seqlens_q, uint64_t cu_seqlens_k, int batch, int heads,
                                               int kv_heads, int total_q, int max_seqlen_q, int max_seqlen_k,
                                               int head_dim, float scale, float bias, int causal,
                                               uint64_t alibi_slopes, int slopes_batch_stride, int deterministic,
                                               uint64_t stream) {
  const flash_sigmoid::Varlen varlen{cu_seqlens_q, cu_seqlens_k, total_q};
  return flash_sigmoid::backward("sigmoid_backward_varlen", false, dtype, q, k, v, dout, dq, dk, dv, dq_workspace,
                                 batch, heads, kv_heads, max_seqlen_q, max_seqlen_k, head_dim, scale, bias, causal,
                                 alibi_slopes, slopes_batch_stride, deterministic, stream, &varlen);
}
