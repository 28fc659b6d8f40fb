// FlashSigmoid backward in one pass (FlashAttention-2's layout). One block per (K/V tile, kv head,
// batch); each warp owns 32 keys at d = 64 (two row blocks, so every Q/dO fragment read from shared
// memory feeds two products) or 16 at d = 128, and the block loops over the query tiles of every
// query head of the group. Per query tile: Sᵀ = K Qᵀ and dPᵀ = V dOᵀ (keys in rows, so P and dS are
// already the A fragments of dV += Pᵀ dO and dK += dSᵀ Q), then dSᵀ goes through shared memory and
// the warps split dQ += dS K by (16 query rows × a slice of d), adding it into an f32 workspace with
// atomics. Five N²d products against the two-pass kernels' seven, no rowsum pre-pass (sigmoid
// weights need no softmax statistics); a small kernel rounds the workspace into dq.
#include <algorithm>

#include "_backward.cuh"
#include "_dispatch.cuh"
#include "_forward.cuh"
#include "_mma_tile.cuh"
#include "_score.cuh"
#include "_status.cuh"

// Tile choices measured fastest in run bwd2 (NOTES.md); dev/build_variant.sh overrides them to compare
// builds. d = 128 keeps one key block per warp: two would need 256 accumulator registers.
#ifndef SIG_FUSED_WARPS_D64
#define SIG_FUSED_WARPS_D64 4
#endif
#ifndef SIG_FUSED_KEY_BLOCKS_D64
#define SIG_FUSED_KEY_BLOCKS_D64 2
#endif
#ifndef SIG_FUSED_BQ_D64
#define SIG_FUSED_BQ_D64 32
#endif
#ifndef SIG_FUSED_BQ_D128
#define SIG_FUSED_BQ_D128 64
#endif

namespace flash_sigmoid {

using namespace attnzoo::mma;

// WARPS warps of KEY_BLOCKS × 16 keys per block (a wide key tile: each query tile's dQ is added
// once per key tile; two key blocks per warp feed each Q/dO fragment read to two products), BQ
// queries per step; dQ's BQ × D tile is split into BQ/16 row blocks × (WARPS·16/BQ) column slices.
template <int D>
struct FusedTile {
  static constexpr int WARPS = D == 64 ? SIG_FUSED_WARPS_D64 : 8;
  static constexpr int KEY_BLOCKS = D == 64 ? SIG_FUSED_KEY_BLOCKS_D64 : 1;
  static constexpr int BK = WARPS * KEY_BLOCKS * 16;
  static constexpr int BQ = D == 64 ? SIG_FUSED_BQ_D64 : SIG_FUSED_BQ_D128;
  static constexpr int ROW_BLOCKS = BQ / 16, SLICES = WARPS / ROW_BLOCKS, SLICE = D / SLICES;
  static_assert(BQ == 32 || BQ % 64 == 0, "ds_offset has no swizzle for this width");
  static_assert(WARPS % ROW_BLOCKS == 0 && SLICE % 16 == 0, "dQ must split evenly over the warps");
  static constexpr int SMEM_ELEMENTS = 2 * BK * D + 4 * BQ * D + 2 * BK * BQ;
};

// Offset of 16-byte chunk `chunk` of row `row` in the [BK][BQ] dSᵀ tile: the shared XOR swizzle
// for rows of 64 elements or more; 32-element rows (two per 128 bytes) swap chunks by row pair, so
// the 8 rows an ldmatrix phase reads and the 8 rows a fragment store writes hit distinct banks.
template <int BQ>
__device__ __forceinline__ int ds_offset(int row, int chunk) {
  if constexpr (BQ == 32) {
    return row * 32 + ((chunk ^ ((row >> 1) & 3)) << 3);
  } else {
    return swizzled<BQ>(row, chunk);
  }
}

// acc[m] (16 × ROWS) += rows [a_row0 + 16m, +16) of tile_a · tile_bᵀ for m < MT: each B fragment
// read from shared memory feeds MT row blocks (Sᵀ = K Qᵀ, dPᵀ = V dOᵀ).
template <int MT, int ROWS, int D, typename T>
__device__ __forceinline__ void mma_blocks_by_rows(float (&acc)[MT][ROWS / 8][4], const T* tile_a, int a_row0,
                                                   const T* tile_b) {
  const int lane = static_cast<int>(threadIdx.x) & 31;
#pragma unroll
  for (int kk = 0; kk < D / 16; kk++) {
    uint32_t a[MT][4];
#pragma unroll
    for (int m = 0; m < MT; m++) {
      ldmatrix_x4(a[m], tile_a + swizzled<D>(a_row0 + 16 * m + (lane & 15), 2 * kk + (lane >> 4)));
    }
#pragma unroll
    for (int j = 0; j < ROWS / 16; j++) {
      uint32_t b[4];
      ldmatrix_x4(b, tile_b + swizzled<D>(j * 16 + (lane & 7) + ((lane >> 4) << 3), 2 * kk + ((lane >> 3) & 1)));
#pragma unroll
      for (int m = 0; m < MT; m++) {
        mma_16816<T>(acc[m][2 * j], a[m], b[0], b[1]);
        mma_16816<T>(acc[m][2 * j + 1], a[m], b[2], b[3]);
      }
    }
  }
}

// One warp's share of a query tile's dQ: rows [16·row_block, +16) × columns [col0, col0 + SLICE) of
// dS (ldmatrix.trans of the stored dSᵀ) · K, added into dq_rows (the tile's first row, column col0).
// Columns from `cols` on (the padding of d 32 / 96) are not added.
template <typename T, int D, int BQ, int BK, int SLICE>
__device__ __forceinline__ void add_dq(const T* s_ds, const T* s_k, int row_block, int col0, float* dq_rows,
                                       int64_t row_stride, int valid_rows, int cols) {
  const int lane = static_cast<int>(threadIdx.x) & 31;
  float acc[SLICE / 8][4];
  zero(acc);
#pragma unroll
  for (int kk = 0; kk < BK / 16; kk++) {
    uint32_t a[4];
    ldmatrix_x4_trans(a, s_ds + ds_offset<BQ>(kk * 16 + (lane & 7) + ((lane >> 4) << 3),
                                              2 * row_block + ((lane >> 3) & 1)));
#pragma unroll
    for (int nn = 0; nn < SLICE / 16; nn++) {
      uint32_t bf[4];
      ldmatrix_x4_trans(bf, s_k + swizzled<D>(kk * 16 + (lane & 15), col0 / 8 + 2 * nn + (lane >> 4)));
      mma_16816<T>(acc[2 * nn], a, bf[0], bf[1]);
      mma_16816<T>(acc[2 * nn + 1], a, bf[2], bf[3]);
    }
  }
  const int row = row_block * 16 + (lane >> 2);
  float* dst = dq_rows + col0 + 2 * (lane & 3);
#pragma unroll
  for (int n = 0; n < SLICE / 8; n++) {
    if (col0 + n * 8 >= cols) break;
    if (row < valid_rows) add_pair(dst + row * row_stride + n * 8, acc[n][0], acc[n][1]);
    if (row + 8 < valid_rows) add_pair(dst + (row + 8) * row_stride + n * 8, acc[n][2], acc[n][3]);
  }
}

// HD: the head dim; the tiles are D = tile_dim(HD) wide.
template <typename T, int HD, bool CAUSAL, bool ALIBI>
__global__ void __launch_bounds__(FusedTile<tile_dim(HD)>::WARPS * 32, 1)
    fused_kernel(Problem p, const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                 const T* __restrict__ dout, float* __restrict__ dq_sum, T* __restrict__ dk, T* __restrict__ dv) {
  constexpr int D = tile_dim(HD);
  using Tile = FusedTile<D>;
  constexpr int BQ = Tile::BQ, BK = Tile::BK, THREADS = Tile::WARPS * 32;
  constexpr bool ACCURATE = AccurateSigmoid<T>::value;
  extern __shared__ __align__(128) unsigned char smem[];
  T* s_k = reinterpret_cast<T*>(smem);
  T* s_v = s_k + BK * D;
  T* s_q = s_v + BK * D;        // two stages of [BQ][D]
  T* s_do = s_q + 2 * BQ * D;   // two stages of [BQ][D]
  T* s_ds = s_do + 2 * BQ * D;  // two stages of [BK][BQ]: dSᵀ

  const int hk = blockIdx.y, b = blockIdx.z;
  const int k0 = static_cast<int>(blockIdx.x) * BK;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const KeyTileSteps<BQ, CAUSAL> tiles(p, b, hk, k0);
  const int nq = tiles.rows.nq, nk = tiles.rows.nk, offset = tiles.offset, steps = tiles.steps;
  if (k0 >= nk) return;  // a shorter sequence of a varlen batch
  const int64_t kv_base = tiles.kv_base();
  // This warp's share of dQ: query rows [16·row_block, +16) of the tile, columns [col0, col0 + SLICE).
  const int row_block = warp % Tile::ROW_BLOCKS;
  const int col0 = (warp / Tile::ROW_BLOCKS) * Tile::SLICE;
  auto dq_of_step = [&](int step) {
    const int i0 = tiles.q_row0(step);
    add_dq<T, D, BQ, BK, Tile::SLICE>(s_ds + (step & 1) * BK * BQ, s_k, row_block, col0,
                                      dq_sum + tiles.q_offset(step) + i0 * p.q_row, p.q_row, nq - i0, HD);
  };

  const SwizzledRows<D> layout;
  load_tile_async<BK, D, THREADS>(s_k, k + kv_base, p.kv_row, k0, nk, layout, HD);
  load_tile_async<BK, D, THREADS>(s_v, v + kv_base, p.kv_row, k0, nk, layout, HD);
  if (steps > 0) {
    load_tile_async<BQ, D, THREADS>(s_q, q + tiles.q_offset(0), p.q_row, tiles.q_row0(0), nq, layout, HD);
    load_tile_async<BQ, D, THREADS>(s_do, dout + tiles.q_offset(0), p.q_row, tiles.q_row0(0), nq, layout, HD);
  }
  cp_async_commit();
  constexpr int MT = Tile::KEY_BLOCKS;
  float acc_dk[MT][D / 8][4], acc_dv[MT][D / 8][4];
#pragma unroll
  for (int m = 0; m < MT; m++) {
    zero(acc_dk[m]);
    zero(acc_dv[m]);
  }

  // One barrier per step: the dQ product of step s − 1 runs after the barrier of step s, which
  // also publishes step s's Q/dO stage and frees the buffers step s + 1 overwrites.
  const int warp_row0 = warp * MT * 16;  // this warp's first key row in the block
  for (int step = 0; step < steps; step++) {
    const int stage = step & 1;
    cp_async_wait_all();
    __syncthreads();
    if (step + 1 < steps) {
      const int64_t next = tiles.q_offset(step + 1);
      load_tile_async<BQ, D, THREADS>(s_q + (stage ^ 1) * BQ * D, q + next, p.q_row, tiles.q_row0(step + 1), nq, layout,
                                      HD);
      load_tile_async<BQ, D, THREADS>(s_do + (stage ^ 1) * BQ * D, dout + next, p.q_row, tiles.q_row0(step + 1), nq,
                                      layout, HD);
      cp_async_commit();
    }
    if (step > 0) dq_of_step(step - 1);
    const T* tile_q = s_q + stage * BQ * D;
    const T* tile_do = s_do + stage * BQ * D;
    const int i0 = tiles.q_row0(step);
    const HalfScore hs = half_score(p, b, tiles.head(step), ALIBI);
    float w[MT][BQ / 8][4], ds[MT][BQ / 8][4];
#pragma unroll
    for (int m = 0; m < MT; m++) {
      zero(w[m]);
      zero(ds[m]);
    }
    mma_blocks_by_rows<MT, BQ, D, T>(w, s_k, warp_row0, tile_q);
    mma_blocks_by_rows<MT, BQ, D, T>(ds, s_v, warp_row0, tile_do);
    uint32_t frag[MT][BQ / 16][4];
#pragma unroll
    for (int m = 0; m < MT; m++) {
      // Queries past Nq were loaded as zeros (dO too), so their dS and dO rows add nothing.
      const int key_row0 = k0 + warp_row0 + 16 * m;
      if (CAUSAL && key_row0 + 15 > i0 + offset) {
        sigmoid_weights<BQ, ALIBI, true, true, ACCURATE>(w[m], hs, key_row0, i0, offset);
      } else {
        sigmoid_weights<BQ, ALIBI, false, true, ACCURATE>(w[m], hs, key_row0, i0, offset);
      }
      sigmoid_grad<BQ>(ds[m], w[m]);
      to_a_fragments<BQ, T>(frag[m], w[m]);
    }
    mma_regs_by_tile<MT, BQ, D, T>(acc_dv, frag, tile_do);
    // dSᵀ rows of this warp's keys, for the dQ product of every warp (the same 16-bit values dK uses)
    T* tile_ds = s_ds + stage * BK * BQ;
#pragma unroll
    for (int m = 0; m < MT; m++) {
      to_a_fragments<BQ, T>(frag[m], ds[m]);
      const int r = warp_row0 + 16 * m + (lane >> 2);
      const int c = 2 * (lane & 3);
#pragma unroll
      for (int kk = 0; kk < BQ / 16; kk++) {
        *reinterpret_cast<uint32_t*>(tile_ds + ds_offset<BQ>(r, 2 * kk) + c) = frag[m][kk][0];
        *reinterpret_cast<uint32_t*>(tile_ds + ds_offset<BQ>(r + 8, 2 * kk) + c) = frag[m][kk][1];
        *reinterpret_cast<uint32_t*>(tile_ds + ds_offset<BQ>(r, 2 * kk + 1) + c) = frag[m][kk][2];
        *reinterpret_cast<uint32_t*>(tile_ds + ds_offset<BQ>(r + 8, 2 * kk + 1) + c) = frag[m][kk][3];
      }
    }
    mma_regs_by_tile<MT, BQ, D, T>(acc_dk, frag, tile_q);
  }
  if (steps > 0) {
    __syncthreads();
    dq_of_step(steps - 1);
  }
  // Each warp stages its results through its own K and V rows, once every warp's dQ products (which
  // read all of K) are done.
  __syncthreads();
#pragma unroll
  for (int m = 0; m < MT; m++) {
    const int row = warp_row0 + 16 * m;
    store_rows<D, T>(acc_dk[m], p.scale, s_k, row, dk + kv_base, p.kv_row, k0 + row, nk, HD);
    store_rows<D, T>(acc_dv[m], 1.0f, s_v, row, dv + kv_base, p.kv_row, k0 + row, nk, HD);
  }
}

// dq = scale · dq_sum, rounded to T; four elements per thread and step.
template <typename T>
__global__ void round_dq_kernel(const float4* __restrict__ dq_sum, uint2* __restrict__ dq, int64_t quads, float scale) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < quads; i += stride) {
    const float4 x = dq_sum[i];
    dq[i] = make_uint2(pack2<T>(x.x * scale, x.y * scale), pack2<T>(x.z * scale, x.w * scale));
  }
}

template <typename T, int HD, bool CAUSAL, bool ALIBI>
int launch_fused(const Problem& p, const Gradients& g, float* dq_sum, cudaStream_t stream) {
  using Tile = FusedTile<tile_dim(HD)>;
  constexpr int SMEM = Tile::SMEM_ELEMENTS * static_cast<int>(sizeof(T));
  auto kernel = fused_kernel<T, HD, CAUSAL, ALIBI>;
  SIG_CUDA_CHECK("sigmoid_backward",
                 cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
  kernel<<<dim3((p.nk + Tile::BK - 1) / Tile::BK, p.kv_heads, p.batch), Tile::WARPS * 32, SMEM, stream>>>(
      p, az_ptr<const T>(g.q), az_ptr<const T>(g.k), az_ptr<const T>(g.v), az_ptr<const T>(g.dout), dq_sum,
      az_ptr<T>(g.dk), az_ptr<T>(g.dv));
  SIG_CUDA_CHECK("sigmoid_backward", cudaGetLastError());
  return AZ_OK;
}

// The single-pass launch of every variant, for dispatch_variant.
struct FusedBackward {
  const Problem& p;
  const Gradients& g;
  float* dq_sum;
  cudaStream_t stream;
  template <typename T, int HD, bool CAUSAL, bool ALIBI>
  int run() const {
    return launch_fused<T, HD, CAUSAL, ALIBI>(p, g, dq_sum, stream);
  }
};

int backward_fused(const Problem& p, int dtype, int head_dim, bool causal, const Gradients& g, uint64_t dq_workspace,
                   int64_t dq_elements, bool wgmma, cudaStream_t stream) {
  const char* op = "sigmoid_backward";
  const int64_t elements = dq_elements;
  float* dq_sum = az_ptr<float>(dq_workspace);
  SIG_CUDA_CHECK(op, cudaMemsetAsync(dq_sum, 0, elements * sizeof(float), stream));
  SIG_CHECK(wgmma ? backward_sm90(p, dtype, head_dim, causal, g, dq_sum, stream)
                  : dispatch_variant<SinglePassHeadDims>(dtype, head_dim, causal, p.slopes != nullptr,
                                                       FusedBackward{p, g, dq_sum, stream}));
  const int64_t quads = elements / 4;  // heads · d is a multiple of 32
  const int blocks = static_cast<int>(std::min<int64_t>((quads + 255) / 256, 4096));
  if (dtype == AZ_BF16) {
    round_dq_kernel<__nv_bfloat16><<<blocks, 256, 0, stream>>>(reinterpret_cast<const float4*>(dq_sum),
                                                               az_ptr<uint2>(g.dq), quads, p.scale);
  } else {
    round_dq_kernel<__half><<<blocks, 256, 0, stream>>>(reinterpret_cast<const float4*>(dq_sum), az_ptr<uint2>(g.dq),
                                                        quads, p.scale);
  }
  SIG_CUDA_CHECK(op, cudaGetLastError());
  return AZ_OK;
}

}  // namespace flash_sigmoid
