// FlashSoftmax forward, O = softmax(Q Kᵀ s − ALiBi + mask) V, FlashAttention-2 style on mma.sync:
// one block per (Q tile, head, batch), each warp owns MT × 16 query rows with Q in registers, K/V
// tiles stream through double-buffered cp.async shared memory, and each row keeps a running max
// and sum (online softmax, base 2) so no N × N matrix is ever stored. f32 accumulation throughout.
#include <math.h>

#include "_mma_tile.cuh"
#include "_problem.cuh"

namespace flash_softmax {

using namespace attnzoo::mma;

// WARPS warps × MT × 16 rows of Q per block, key tiles of BN. At d = 64 two row blocks per warp let
// every K/V fragment read from shared memory feed two products (the FlashSigmoid tile); at d = 128
// that spills (O and Q fragments alone take 192 registers), so eight warps own one block each.
template <int D>
struct ForwardTile {
  static constexpr int WARPS = D == 64 ? 4 : 8, MT = D == 64 ? 2 : 1, BN = 64;
};

__device__ __forceinline__ float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// Max and sum over the four lanes that hold one accumulator row.
__device__ __forceinline__ float quad_max(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}

__device__ __forceinline__ float quad_sum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

// Running softmax state of the two rows (g and g + 8 of a 16-row block) a lane holds.
struct RowState {
  float max[2];  // running max of the base-2 logits, −∞ before any visible key
  float sum[2];  // this lane's part of Σ 2^(x − max); the quad's parts add up at the end
};

// Turns a warp's 16 × BN raw scores q·k into weights 2^(x − max) in place, updating the running
// max and sum and returning each row's rescale factor for the output accumulator. Rows start at
// row0 (queries), columns at col0 (keys). With MASK, keys at or past nk and (CAUSAL) keys past
// i + offset get weight exactly 0.
template <int BN, bool CAUSAL, bool ALIBI, bool MASK>
__device__ __forceinline__ void online_softmax(float (&s)[BN / 8][4], RowState& st, float (&rescale)[2],
                                               float scale_log2, float slope_log2, int row0, int col0, int nk,
                                               int offset) {
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int row = row0 + (lane >> 2);
  const int col = col0 + 2 * (lane & 3);
  float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
  for (int n = 0; n < BN / 8; n++) {
#pragma unroll
    for (int e = 0; e < 4; e++) {
      const int r = row + (e >> 1) * 8;
      const int c = col + n * 8 + (e & 1);
      float x = s[n][e] * scale_log2;
      if (ALIBI) x = fmaf(-slope_log2, fabsf(static_cast<float>(r + offset - c)), x);
      if (MASK && (c >= nk || (CAUSAL && c > r + offset))) x = -INFINITY;
      s[n][e] = x;
      tile_max[e >> 1] = fmaxf(tile_max[e >> 1], x);
    }
  }
  float base[2];
#pragma unroll
  for (int h = 0; h < 2; h++) {
    const float next = fmaxf(st.max[h], quad_max(tile_max[h]));
    // a row that has seen no visible key yet keeps max −∞: exponents use 0 so that 2^−∞ = 0, not NaN
    base[h] = next == -INFINITY ? 0.0f : next;
    rescale[h] = exp2_approx(st.max[h] - base[h]);
    st.max[h] = next;
    st.sum[h] *= rescale[h];
  }
#pragma unroll
  for (int n = 0; n < BN / 8; n++) {
#pragma unroll
    for (int e = 0; e < 4; e++) {
      const float w = exp2_approx(s[n][e] - base[e >> 1]);
      s[n][e] = w;
      st.sum[e >> 1] += w;
    }
  }
}

template <typename T, int D, bool CAUSAL, bool ALIBI>
__global__ void __launch_bounds__(ForwardTile<D>::WARPS * 32)
    forward_kernel(Problem p, const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                   T* __restrict__ o) {
  using Tile = ForwardTile<D>;
  constexpr int WARPS = Tile::WARPS, MT = Tile::MT, BN = Tile::BN;
  constexpr int THREADS = WARPS * 32, BM = WARPS * MT * 16;
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
  const int offset = p.query_offset;

  const T* q_head = q + b * p.q.batch + h * p.q.head;
  const T* k_head = k + b * p.k.batch + hk * p.k.head;
  const T* v_head = v + b * p.v.batch + hk * p.v.head;

  // Keys any row of this tile can see.
  const int key_end = CAUSAL ? min(p.nk, m0 + BM + offset) : p.nk;
  const int n_tiles = key_end > 0 ? (key_end + BN - 1) / BN : 0;

  load_tile_async<BM, D, THREADS>(s_q, q_head, p.q.token, m0, p.nq);
  if (n_tiles > 0) {
    load_tile_async<BN, D, THREADS>(s_k, k_head, p.k.token, 0, p.nk);
    load_tile_async<BN, D, THREADS>(s_v, v_head, p.v.token, 0, p.nk);
  }
  cp_async_commit();
  const float slope_log2 =
      ALIBI ? p.slopes[static_cast<int64_t>(b) * p.slopes_batch_stride + h] * 1.4426950408889634f : 0.0f;
  float acc[MT][D / 8][4];
  RowState st[MT];
#pragma unroll
  for (int m = 0; m < MT; m++) {
    zero(acc[m]);
    st[m] = {{-INFINITY, -INFINITY}, {0.0f, 0.0f}};
  }
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
      load_tile_async<BN, D, THREADS>(s_k + (stage ^ 1) * BN * D, k_head, p.k.token, (t + 1) * BN, p.nk);
      load_tile_async<BN, D, THREADS>(s_v + (stage ^ 1) * BN * D, v_head, p.v.token, (t + 1) * BN, p.nk);
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
      const int r0 = row0 + m * 16;
      float rescale[2];
      // Only the last key tile (keys past Nk) and tiles crossing the causal edge need masks.
      if (n0 + BN > p.nk || (CAUSAL && n0 + BN - 1 > r0 + offset)) {
        online_softmax<BN, CAUSAL, ALIBI, true>(s[m], st[m], rescale, p.scale_log2, slope_log2, r0, n0, p.nk, offset);
      } else {
        online_softmax<BN, CAUSAL, ALIBI, false>(s[m], st[m], rescale, p.scale_log2, slope_log2, r0, n0, p.nk, offset);
      }
#pragma unroll
      for (int n = 0; n < D / 8; n++) {
        acc[m][n][0] *= rescale[0];
        acc[m][n][1] *= rescale[0];
        acc[m][n][2] *= rescale[1];
        acc[m][n][3] *= rescale[1];
      }
      to_a_fragments<BN, T>(pf[m], s[m]);
    }
    mma_regs_by_tile<MT, BN, D, T>(acc, pf, s_v + stage * BN * D);
    if (t + 1 < n_tiles) {
      cp_async_wait_all();
      __syncthreads();
    }
  }
  // Normalise by the row sums (a row with no visible key has sum 0 and outputs 0), then each warp
  // stages through the Q rows only it read (store_rows waits for all its lanes' reads).
  T* o_head = o + b * p.o.batch + h * p.o.head;
#pragma unroll
  for (int m = 0; m < MT; m++) {
#pragma unroll
    for (int half = 0; half < 2; half++) {
      const float sum = quad_sum(st[m].sum[half]);
      const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
#pragma unroll
      for (int n = 0; n < D / 8; n++) {
        acc[m][n][2 * half] *= inv;
        acc[m][n][2 * half + 1] *= inv;
      }
    }
    store_rows<D, T>(acc[m], 1.0f, s_q, warp_row0 + m * 16, o_head, p.o.token, row0 + m * 16, p.nq);
  }
}

template <typename T, int D, bool CAUSAL, bool ALIBI>
int launch(const Problem& p, uint64_t q, uint64_t k, uint64_t v, uint64_t o, cudaStream_t stream) {
  using Tile = ForwardTile<D>;
  constexpr int WARPS = Tile::WARPS, BN = Tile::BN;
  constexpr int BM = WARPS * Tile::MT * 16;
  constexpr int SMEM = (BM * D + 4 * BN * D) * static_cast<int>(sizeof(T));
  auto kernel = forward_kernel<T, D, CAUSAL, ALIBI>;
  const char* op = "softmax_forward";
  SOFTMAX_CUDA_CHECK(op, cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
  const dim3 grid((p.nq + BM - 1) / BM, p.heads, p.batch);
  kernel<<<grid, WARPS * 32, SMEM, stream>>>(p, az_ptr<const T>(q), az_ptr<const T>(k), az_ptr<const T>(v),
                                             az_ptr<T>(o));
  SOFTMAX_CUDA_CHECK(op, cudaGetLastError());
  return AZ_OK;
}

template <typename T, int D>
int launch_masks(const Problem& p, bool causal, uint64_t q, uint64_t k, uint64_t v, uint64_t o, cudaStream_t stream) {
  const bool alibi = p.slopes != nullptr;
  if (causal) return alibi ? launch<T, D, true, true>(p, q, k, v, o, stream) : launch<T, D, true, false>(p, q, k, v, o, stream);
  return alibi ? launch<T, D, false, true>(p, q, k, v, o, stream) : launch<T, D, false, false>(p, q, k, v, o, stream);
}

template <typename T>
int launch_head_dim(const Problem& p, int head_dim, bool causal, uint64_t q, uint64_t k, uint64_t v, uint64_t o,
                    cudaStream_t stream) {
  return head_dim == 64 ? launch_masks<T, 64>(p, causal, q, k, v, o, stream)
                        : launch_masks<T, 128>(p, causal, q, k, v, o, stream);
}

int launch_forward(const Problem& p, int dtype, int head_dim, bool causal, uint64_t q, uint64_t k, uint64_t v,
                   uint64_t o, cudaStream_t stream) {
  return dtype == AZ_BF16 ? launch_head_dim<__nv_bfloat16>(p, head_dim, causal, q, k, v, o, stream)
                          : launch_head_dim<__half>(p, head_dim, causal, q, k, v, o, stream);
}

}  // namespace flash_softmax
