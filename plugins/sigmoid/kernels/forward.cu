// FlashSigmoid forward, O = σ(Q Kᵀ s + b − ALiBi) V, FlashAttention-2 style on mma.sync: one block
// per (Q tile, head, batch), each warp owns MT × 16 query rows with Q in registers; K/V tiles stream
// through double-buffered cp.async shared memory. No row max, no row sum, no rescaling: each tile's
// weights go straight into the f32 output accumulator.
#include "_dispatch.cuh"
#include "_forward.cuh"
#include "_score.cuh"
#include "_status.cuh"
#include "_mma_tile.cuh"

namespace flash_sigmoid {

using namespace attnzoo::mma;

// WARPS warps × MT × 16 rows of Q per block, key tiles of BN, by tile width D: the fastest of the
// builds measured in dev/results/run2 (NOTES.md). Two row blocks per warp let every K/V fragment
// read from shared memory feed two products; BN keeps S, O and Q fragments in registers. At D 256
// one row block per warp already holds 64 Q and 128 O registers.
template <int D, bool CAUSAL>
struct ForwardTile {
  static constexpr int WARPS = 4, MT = 2, BN = D == 64 ? 64 : 32;
};
template <>
struct ForwardTile<128, false> {
  static constexpr int WARPS = 8, MT = 2, BN = 32;
};
template <bool CAUSAL>
struct ForwardTile<256, CAUSAL> {
  static constexpr int WARPS = 4, MT = 1, BN = 16;
};

// HD: the head dim; the tiles are D = tile_dim(HD) wide, columns past HD loaded as zeros.
template <typename T, int HD, bool CAUSAL, bool ALIBI>
__global__ void __launch_bounds__(ForwardTile<tile_dim(HD), CAUSAL>::WARPS * 32, 1)
    forward_kernel(Problem p, const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                   T* __restrict__ o) {
  constexpr int D = tile_dim(HD);
  using Tile = ForwardTile<D, CAUSAL>;
  constexpr int WARPS = Tile::WARPS, MT = Tile::MT, BN = Tile::BN;
  constexpr int THREADS = WARPS * 32, BM = WARPS * MT * 16;
  constexpr bool ACCURATE = AccurateSigmoid<T>::value;
  extern __shared__ __align__(128) unsigned char smem[];
  T* s_q = reinterpret_cast<T*>(smem);
  T* s_k = s_q + BM * D;      // two stages of [BN][D]
  T* s_v = s_k + 2 * BN * D;  // two stages of [BN][D]

  // Causal Q tiles see more keys the later they sit: start those first.
  const int m_tile = CAUSAL ? static_cast<int>(gridDim.x - 1 - blockIdx.x) : static_cast<int>(blockIdx.x);
  const int h = blockIdx.y, b = blockIdx.z;
  const int hk = h / (p.heads / p.kv_heads);
  const int m0 = m_tile * BM;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const Sequence seq = sequence(p, b);
  if (m0 >= seq.nq) return;  // a varlen sequence shorter than the longest: the whole block leaves
  const int nq = seq.nq, nk = seq.nk;
  const int offset = nk - nq;

  const T* q_head = q + seq.q + h * p.q_head;
  const T* k_head = k + seq.k + hk * p.k_head;
  const T* v_head = v + seq.v + hk * p.v_head;

  // Keys any row of this tile can see (bottom-right aligned causal mask).
  const int key_end = CAUSAL ? min(nk, m0 + BM + offset) : nk;
  const int n_tiles = key_end > 0 ? (key_end + BN - 1) / BN : 0;

  load_tile_async<BM, D, THREADS>(s_q, q_head, p.q_row, m0, nq, SwizzledRows<D>{}, HD);
  if (n_tiles > 0) {
    load_tile_async<BN, D, THREADS>(s_k, k_head, p.kv_row, 0, nk, SwizzledRows<D>{}, HD);
    load_tile_async<BN, D, THREADS>(s_v, v_head, p.v_row, 0, nk, SwizzledRows<D>{}, HD);
  }
  cp_async_commit();
  const HalfScore hs = half_score(p, b, h, ALIBI);
  float acc[MT][D / 8][4];
#pragma unroll
  for (int m = 0; m < MT; m++) zero(acc[m]);
  cp_async_wait_all();
  __syncthreads();
  const int warp_row0 = warp * MT * 16;  // the warp's first row inside the tile
  uint32_t qf[MT][D / 16][4];
#pragma unroll
  for (int m = 0; m < MT; m++) load_a<D>(qf[m], s_q, warp_row0 + m * 16);

  const int row0 = m0 + warp_row0;
  for (int t = 0; t < n_tiles; t++) {
    const int stage = t & 1;
    if (t + 1 < n_tiles) {
      load_tile_async<BN, D, THREADS>(s_k + (stage ^ 1) * BN * D, k_head, p.kv_row, (t + 1) * BN, nk,
                                      SwizzledRows<D>{}, HD);
      load_tile_async<BN, D, THREADS>(s_v + (stage ^ 1) * BN * D, v_head, p.v_row, (t + 1) * BN, nk,
                                      SwizzledRows<D>{}, HD);
      cp_async_commit();
    }
    const int n0 = t * BN;
    float s[MT][BN / 8][4];
#pragma unroll
    for (int m = 0; m < MT; m++) zero(s[m]);
    mma_regs_by_rows<MT, BN, D, T>(s, qf, s_k + stage * BN * D);
    uint32_t pf[MT][BN / 16][4];
#pragma unroll
    for (int m = 0; m < MT; m++) {
      // Keys past Nk were loaded as zeros (V rows too), so only the causal edge needs a mask.
      const int r0 = row0 + m * 16;
      if (CAUSAL && n0 + BN - 1 > r0 + offset) {
        sigmoid_weights<BN, ALIBI, true, false, ACCURATE>(s[m], hs, r0, n0, offset);
      } else {
        sigmoid_weights<BN, ALIBI, false, false, ACCURATE>(s[m], hs, r0, n0, offset);
      }
      to_a_fragments<BN, T>(pf[m], s[m]);
    }
    mma_regs_by_tile<MT, BN, D, T>(acc, pf, s_v + stage * BN * D);
    if (t + 1 < n_tiles) {
      cp_async_wait_all();
      __syncthreads();
    }
  }
  // Each warp stages through the Q rows only it read.
#pragma unroll
  for (int m = 0; m < MT; m++) {
    store_rows<D, T>(acc[m], 1.0f, s_q, warp_row0 + m * 16, o + seq.o + h * p.o_head, p.o_row, row0 + m * 16, nq,
                     HD);
  }
}

template <typename T, int HD, bool CAUSAL, bool ALIBI>
int launch_forward(const Problem& p, uint64_t q, uint64_t k, uint64_t v, uint64_t o, cudaStream_t stream) {
  constexpr int D = tile_dim(HD);
  using Tile = ForwardTile<D, CAUSAL>;
  constexpr int WARPS = Tile::WARPS, BN = Tile::BN;
  constexpr int BM = WARPS * Tile::MT * 16;
  constexpr int SMEM = (BM * D + 4 * BN * D) * static_cast<int>(sizeof(T));
  auto kernel = forward_kernel<T, HD, CAUSAL, ALIBI>;
  SIG_CUDA_CHECK("sigmoid_forward", cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
  const dim3 grid((p.nq + BM - 1) / BM, p.heads, p.batch);
  kernel<<<grid, WARPS * 32, SMEM, stream>>>(p, az_ptr<const T>(q), az_ptr<const T>(k), az_ptr<const T>(v),
                                             az_ptr<T>(o));
  SIG_CUDA_CHECK("sigmoid_forward", cudaGetLastError());
  return AZ_OK;
}

// The mma.sync launch of every variant, for dispatch_variant.
struct MmaForward {
  const Problem& p;
  uint64_t q, k, v, o;
  cudaStream_t stream;
  template <typename T, int D, bool CAUSAL, bool ALIBI>
  int run() const {
    return launch_forward<T, D, CAUSAL, ALIBI>(p, q, k, v, o, stream);
  }
};

int forward_mma(const Problem& p, int dtype, int head_dim, bool causal, uint64_t q, uint64_t k, uint64_t v, uint64_t o,
                cudaStream_t stream) {
  return dispatch_variant<TiledHeadDims>(dtype, head_dim, causal, p.slopes != nullptr, MmaForward{p, q, k, v, o, stream});
}

}  // namespace flash_sigmoid
