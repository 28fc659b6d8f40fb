// FlashSigmoid single-pass backward for Hopper (sm_90a): backward_fused.cu's algorithm with every
// product on wgmma. One block of two warpgroups per 128-key tile of a kv head; each warpgroup owns 64
// keys and the block loops over the query tiles of every query head of the group. Per query tile:
// Sᵀ = K Qᵀ and dPᵀ = V dOᵀ with both operands in shared memory (keys are the M side, so P and dS come
// out in the register A layout), dV += Pᵀ dO and dK += dSᵀ Q with P and dS from registers, then dSᵀ
// goes to shared memory and dQ = dS K (both operands MN-major) is added into the f32 workspace with
// vector atomics during the next tile. A warpgroup reads each Q/dO tile once per 64 keys, where the
// mma.sync kernel's warps read it once per 16 or 32: the shared-memory traffic that bounds that kernel.
#include <type_traits>

#include "_backward.cuh"
#include "_dispatch.cuh"
#include "_forward.cuh"
#include "_score.cuh"
#include "_status.cuh"
#include "_wgmma.cuh"

namespace flash_sigmoid {

using namespace attnzoo::mma;

// BQ queries per step: the accumulators of a thread are Sᵀ and dPᵀ (BQ/2 each), dK and dV (D/2 each)
// and dQ (32), so d 64 affords 128 queries (wider wgmma, half the steps) and d 128 takes 64. dQ's BQ × D
// tile is two 64 × 64 blocks, one per warpgroup: split by rows at d 64, by columns at d 128. The
// previous tile's dQ product is issued with dV and dK: issued before the weights, its 32 accumulators
// live beside Sᵀ, dPᵀ, dK and dV made ptxas spill 264 bytes at d 64.
template <int D>
struct Sm90BackwardTile {
  static constexpr int BK = 128, THREADS = 256;
  static constexpr int BQ = D == 64 ? 128 : 64;
  static constexpr int DQ_ROW_PANELS = BQ / 64;
  static_assert(DQ_ROW_PANELS * (D / 64) == 2, "dQ must split into one 64 × 64 block per warpgroup");
  static constexpr int SMEM_BYTES = (2 * BK * D + 4 * BQ * D + 2 * BK * BQ) * 2;
};

// HD: the head dim; the tiles are D = tile_dim(HD) wide.
template <typename T, int HD, bool CAUSAL, bool ALIBI>
__global__ void __launch_bounds__(256, 1)
    backward_sm90_kernel(Problem p, const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                         const T* __restrict__ dout, float* __restrict__ dq_sum, T* __restrict__ dk,
                         T* __restrict__ dv) {
#ifdef SIG_WGMMA
  constexpr int D = tile_dim(HD);
  using Tile = Sm90BackwardTile<D>;
  constexpr int BQ = Tile::BQ, BK = Tile::BK, THREADS = Tile::THREADS;
  constexpr bool ACCURATE = AccurateSigmoid<T>::value;
  extern __shared__ __align__(1024) unsigned char smem[];
  T* s_k = reinterpret_cast<T*>(smem);  // [D/64][BK][64]
  T* s_v = s_k + BK * D;                // [D/64][BK][64]
  T* s_q = s_v + BK * D;                // two stages of [D/64][BQ][64]
  T* s_do = s_q + 2 * BQ * D;           // two stages of [D/64][BQ][64]
  T* s_ds = s_do + 2 * BQ * D;          // two stages of [BQ/64][BK][64]: dSᵀ, keys in rows

  const int hk = blockIdx.y, b = blockIdx.z;
  const int k0 = static_cast<int>(blockIdx.x) * BK;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int wg = warp >> 2;
  const KeyTileSteps<BQ, CAUSAL> tiles(p, b, hk, k0);
  const int nq = tiles.rows.nq, nk = tiles.rows.nk, offset = tiles.offset, steps = tiles.steps;
  if (k0 >= nk) return;  // a shorter sequence of a varlen batch
  const int64_t kv_base = tiles.kv_base();

  // This warpgroup's 64 × 64 block of dQ: query rows [64·dq_rows, +64) of the tile, columns [64·dq_cols, +64).
  const int dq_rows = wg % Tile::DQ_ROW_PANELS, dq_cols = wg / Tile::DQ_ROW_PANELS;
  float dq[32];  // written by the wgmma before any read (its first product does not accumulate)
  // dQ of step `step` from its dSᵀ stage: issued as one wgmma group, summed by add_dq after it completes.
  auto issue_dq = [&](int step) {
    const T* tile_ds = s_ds + (step & 1) * BK * BQ;
#pragma unroll
    for (int kk = 0; kk < BK / 16; kk++) {
      wgmma_ss<64, T, true, true>(dq, mn_major<BK>(tile_ds, dq_rows, kk), mn_major<BK>(s_k, dq_cols, kk), kk > 0);
    }
    wgmma_commit();
  };
  auto add_dq = [&](int step) {
    pin(dq);
    const int i0 = tiles.q_row0(step) + 64 * dq_rows;
    const int row = (warp & 3) * 16 + (lane >> 2);
    float* dst = dq_sum + tiles.q_offset(step) + static_cast<int64_t>(i0) * p.q_row + 64 * dq_cols + 2 * (lane & 3);
    const int valid_rows = nq - i0;
#pragma unroll
    for (int n = 0; n < 8; n++) {
      if (64 * dq_cols + n * 8 >= HD) break;  // padding columns of d 32 / 96
      if (row < valid_rows) add_pair(dst + row * p.q_row + n * 8, dq[4 * n], dq[4 * n + 1]);
      if (row + 8 < valid_rows) add_pair(dst + (row + 8) * p.q_row + n * 8, dq[4 * n + 2], dq[4 * n + 3]);
    }
  };

  load_tile_wgmma<BK, D, THREADS>(s_k, k + kv_base, p.kv_row, k0, nk, HD);
  load_tile_wgmma<BK, D, THREADS>(s_v, v + kv_base, p.kv_row, k0, nk, HD);
  if (steps > 0) {
    load_tile_wgmma<BQ, D, THREADS>(s_q, q + tiles.q_offset(0), p.q_row, tiles.q_row0(0), nq, HD);
    load_tile_wgmma<BQ, D, THREADS>(s_do, dout + tiles.q_offset(0), p.q_row, tiles.q_row0(0), nq, HD);
  }
  cp_async_commit();
  float acc_dk[D / 2], acc_dv[D / 2];
#pragma unroll
  for (int i = 0; i < D / 2; i++) acc_dk[i] = acc_dv[i] = 0.0f;

  const int key_row = wg * 64 + (warp & 3) * 16;  // this warp's first key row in the block
  // One query tile; WITH_DQ (every step but the first) also runs the previous tile's dQ. A
  // compile-time flag, so that ptxas sees the same wgmma groups on every path and keeps them async.
  auto run_step = [&](int step, auto with_dq) {
    constexpr bool WITH_DQ = decltype(with_dq)::value;
    const int stage = step & 1;
    // Publishes this step's Q/dO stage and the previous step's dSᵀ to every warpgroup's wgmma, and
    // frees the buffers the next loads overwrite (their last readers waited for their wgmma).
    cp_async_wait_all();
    fence_async_shared();
    __syncthreads();
    if (step + 1 < steps) {
      const int64_t next = tiles.q_offset(step + 1);
      load_tile_wgmma<BQ, D, THREADS>(s_q + (stage ^ 1) * BQ * D, q + next, p.q_row, tiles.q_row0(step + 1), nq, HD);
      load_tile_wgmma<BQ, D, THREADS>(s_do + (stage ^ 1) * BQ * D, dout + next, p.q_row, tiles.q_row0(step + 1), nq, HD);
      cp_async_commit();
    }
    const T* tile_q = s_q + stage * BQ * D;
    const T* tile_do = s_do + stage * BQ * D;
    float w[BQ / 8][4], ds[BQ / 8][4];
    float(&w_flat)[BQ / 2] = reinterpret_cast<float(&)[BQ / 2]>(w);
    float(&ds_flat)[BQ / 2] = reinterpret_cast<float(&)[BQ / 2]>(ds);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
      wgmma_ss<BQ, T>(w_flat, k_major<BK>(s_k, wg * 64, kk), k_major<BQ>(tile_q, 0, kk), kk > 0);
    }
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
      wgmma_ss<BQ, T>(ds_flat, k_major<BK>(s_v, wg * 64, kk), k_major<BQ>(tile_do, 0, kk), kk > 0);
    }
    wgmma_commit();
    wgmma_wait<0>();
    pin(w_flat);
    pin(ds_flat);

    const int i0 = tiles.q_row0(step);
    const HalfScore hs = half_score(p, b, tiles.head(step), ALIBI);
    // Queries past Nq were loaded as zeros (dO too), so their dS and dO rows add nothing.
    const int key0 = k0 + key_row;
    if (CAUSAL && key0 + 15 > i0 + offset) {
      sigmoid_weights<BQ, ALIBI, true, true, ACCURATE>(w, hs, key0, i0, offset);
    } else {
      sigmoid_weights<BQ, ALIBI, false, true, ACCURATE>(w, hs, key0, i0, offset);
    }
    sigmoid_grad<BQ>(ds, w);
    uint32_t pf[BQ / 16][4], dsf[BQ / 16][4];
    to_a_fragments<BQ, T>(pf, w);
    to_a_fragments<BQ, T>(dsf, ds);
    pin(acc_dv);
    pin(acc_dk);
    wgmma_fence();
    if constexpr (WITH_DQ) issue_dq(step - 1);
#pragma unroll
    for (int kk = 0; kk < BQ / 16; kk++) wgmma_rs<D, T>(acc_dv, pf[kk], mn_major<BQ>(tile_do, 0, kk));
#pragma unroll
    for (int kk = 0; kk < BQ / 16; kk++) wgmma_rs<D, T>(acc_dk, dsf[kk], mn_major<BQ>(tile_q, 0, kk));
    wgmma_commit();

    // dSᵀ rows of this warp's keys (the 16-bit values dK uses), for the next step's dQ product.
    T* tile_ds = s_ds + stage * BK * BQ;
    const WgmmaLayout<BK> ds_layout;
    const int r = key_row + (lane >> 2);
    const int c = 2 * (lane & 3);
#pragma unroll
    for (int kk = 0; kk < BQ / 16; kk++) {
      *reinterpret_cast<uint32_t*>(tile_ds + ds_layout(r, 2 * kk) + c) = dsf[kk][0];
      *reinterpret_cast<uint32_t*>(tile_ds + ds_layout(r + 8, 2 * kk) + c) = dsf[kk][1];
      *reinterpret_cast<uint32_t*>(tile_ds + ds_layout(r, 2 * kk + 1) + c) = dsf[kk][2];
      *reinterpret_cast<uint32_t*>(tile_ds + ds_layout(r + 8, 2 * kk + 1) + c) = dsf[kk][3];
    }
    if constexpr (WITH_DQ) {
      wgmma_wait<1>();  // the previous step's dQ; dV and dK may still run
      add_dq(step - 1);
    }
    wgmma_wait<0>();
    pin(acc_dv);
    pin(acc_dk);
    pin(pf);
    pin(dsf);
  };
  if (steps > 0) run_step(0, std::false_type{});
  for (int step = 1; step < steps; step++) run_step(step, std::true_type{});
  if (steps > 0) {
    fence_async_shared();
    __syncthreads();
    wgmma_fence();
    issue_dq(steps - 1);
    wgmma_wait<0>();
    add_dq(steps - 1);
  }
  // Each warp stages its results through its own K and V rows once every warpgroup's dQ products
  // (which read all of K) are done.
  __syncthreads();
  store_rows<D, T>(reinterpret_cast<const float(&)[D / 8][4]>(acc_dk), p.scale, s_k, key_row, dk + kv_base, p.kv_row,
                   k0 + key_row, nk, HD);
  store_rows<D, T>(reinterpret_cast<const float(&)[D / 8][4]>(acc_dv), 1.0f, s_v, key_row, dv + kv_base, p.kv_row,
                   k0 + key_row, nk, HD);
#else
  __trap();  // the sm_80 image is never launched: backward_sm90 is chosen on 9.x only
#endif
}

template <typename T, int HD, bool CAUSAL, bool ALIBI>
int launch_backward_sm90(const Problem& p, const Gradients& g, float* dq_sum, cudaStream_t stream) {
  using Tile = Sm90BackwardTile<tile_dim(HD)>;
  auto kernel = backward_sm90_kernel<T, HD, CAUSAL, ALIBI>;
  SIG_CUDA_CHECK("sigmoid_backward",
                 cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Tile::SMEM_BYTES));
  kernel<<<dim3((p.nk + Tile::BK - 1) / Tile::BK, p.kv_heads, p.batch), Tile::THREADS, Tile::SMEM_BYTES, stream>>>(
      p, az_ptr<const T>(g.q), az_ptr<const T>(g.k), az_ptr<const T>(g.v), az_ptr<const T>(g.dout), dq_sum,
      az_ptr<T>(g.dk), az_ptr<T>(g.dv));
  SIG_CUDA_CHECK("sigmoid_backward", cudaGetLastError());
  return AZ_OK;
}

struct Sm90Backward {
  const Problem& p;
  const Gradients& g;
  float* dq_sum;
  cudaStream_t stream;
  template <typename T, int HD, bool CAUSAL, bool ALIBI>
  int run() const {
    return launch_backward_sm90<T, HD, CAUSAL, ALIBI>(p, g, dq_sum, stream);
  }
};

int backward_sm90(const Problem& p, int dtype, int head_dim, bool causal, const Gradients& g, float* dq_sum,
                  cudaStream_t stream) {
  return dispatch_variant<SinglePassHeadDims>(dtype, head_dim, causal, p.slopes != nullptr,
                                            Sm90Backward{p, g, dq_sum, stream});
}

}  // namespace flash_sigmoid
