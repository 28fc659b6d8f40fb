// FlashSigmoid forward for Hopper (sm_90a): forward.cu's algorithm with both products on wgmma.
// One block of two warpgroups per 128-row Q tile; each warpgroup owns 64 rows. S = Q Kᵀ takes Q and
// K from shared memory, O += P V takes P from registers (the wgmma accumulator layout of S is the
// register A layout) and V from shared memory (N-major, transposed by the instruction). Tiles sit
// in the 128-byte-swizzle layout wgmma reads: [D/64][rows][64], 16-byte chunk c of row r at c ^ (r % 8).
//
// Software pipeline, step t of a warpgroup: after the block barrier, pack P_{t−1} (kept in f32 since the
// step before) into the registers the last product has finished reading; issue S_t = Q K_tᵀ, then
// O += P_{t−1} V_{t−1}; wait for S_t only, and compute P_t = σ(S_t) while the tensor cores run
// P_{t−1} V_{t−1}. The wait for that product sits after the next barrier, not before the packing in
// this step: there ptxas hoisted it above the sigmoid (SASS of run fwd2), and nothing overlapped.
// K_{t+1} and V_t load during step t and the barrier that starts step t + 1 makes them visible. K has
// two stages (S_{t−1} is complete before that barrier); V has three, since the other warpgroup's
// P_{t−2} V_{t−2} may still run when this one starts loading V_t. Each thread copies the same 16-byte
// chunks of every K and V tile, rows a fixed stride apart: a full tile costs one pointer addition per
// copy (KeyTileShare), only the last, partial tile checks its rows one by one.
#include <type_traits>

#include "_dispatch.cuh"
#include "_forward.cuh"
#include "_score.cuh"
#include "_status.cuh"
#include "_wgmma.cuh"

namespace flash_sigmoid {

using namespace attnzoo::mma;

constexpr int SM90_BM = 128, SM90_BN = 128, SM90_THREADS = 256;

// One thread's chunks of a BN-row K or V tile in the wgmma layout: chunk `chunk` of rows row, row +
// RPP, row + 2·RPP, ... (load_tile_async's assignment); the swizzle only depends on row % 8, so the
// shared offsets of the passes are compile-time steps from the first.
template <int D, int THREADS>
struct KeyTileShare {
  static constexpr int CHUNKS = D / 8, RPP = THREADS / CHUNKS, PASSES = SM90_BN / RPP;
  static_assert(THREADS % CHUNKS == 0 && RPP % 8 == 0 && SM90_BN % RPP == 0, "passes of whole 8-row groups");
  int row, chunk, offset;

  __device__ KeyTileShare()
      : row(static_cast<int>(threadIdx.x) / CHUNKS),
        chunk(static_cast<int>(threadIdx.x) % CHUNKS),
        offset(WgmmaLayout<SM90_BN>{}(row, chunk)) {}

  // Starts loading key tile `index` (rows index·BN …) of a head with `valid_rows` rows into `tile`.
  template <typename T>
  __device__ __forceinline__ void load(T* tile, const T* head, int64_t row_stride, int index, int valid_rows) const {
    const int first = index * SM90_BN;
    if (first + SM90_BN <= valid_rows) {
      const T* g = head + static_cast<int64_t>(first + row) * row_stride + chunk * 8;
      const int64_t step = RPP * row_stride;
#pragma unroll
      for (int i = 0; i < PASSES; i++) {
        attnzoo::mma::cp_async_16(tile + offset + i * RPP * 64, g, 16);
        g += step;
      }
    } else {
      load_tile_wgmma<SM90_BN, D, THREADS>(tile, head, row_stride, first, valid_rows);
    }
  }
};

template <typename T, int D>
constexpr int sm90_shared_bytes() {
  return (SM90_BM + 5 * SM90_BN) * D * static_cast<int>(sizeof(T));  // Q, two K and three V stages
}

template <typename T, int D, bool CAUSAL, bool ALIBI>
__global__ void __launch_bounds__(SM90_THREADS, 1)
    forward_sm90_kernel(Problem p, const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                        T* __restrict__ o) {
#ifdef SIG_WGMMA
  constexpr int BM = SM90_BM, BN = SM90_BN, THREADS = SM90_THREADS;
  constexpr bool ACCURATE = AccurateSigmoid<T>::value;
  extern __shared__ __align__(1024) unsigned char smem[];
  T* s_q = reinterpret_cast<T*>(smem);  // [D/64][BM][64]
  T* s_k = s_q + BM * D;                // two stages of [D/64][BN][64]
  T* s_v = s_k + 2 * BN * D;            // three stages of [D/64][BN][64]

  const int m_tile = CAUSAL ? static_cast<int>(gridDim.x - 1 - blockIdx.x) : static_cast<int>(blockIdx.x);
  const int h = blockIdx.y, b = blockIdx.z;
  const int hk = h / (p.heads / p.kv_heads);
  const int m0 = m_tile * BM;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int group = warp >> 2;  // warpgroup
  const int offset = p.nk - p.nq;

  const T* q_head = q + b * p.q_batch + h * p.q_head;
  const T* k_head = k + b * p.kv_batch + hk * p.k_head;
  const T* v_head = v + b * p.v_batch + hk * p.v_head;
  const int key_end = CAUSAL ? min(p.nk, m0 + BM + offset) : p.nk;
  const int n_tiles = key_end > 0 ? (key_end + BN - 1) / BN : 0;

  load_tile_wgmma<BM, D, THREADS>(s_q, q_head, p.q_row, m0, p.nq);
  const KeyTileShare<D, THREADS> share;
  if (n_tiles > 0) share.load(s_k, k_head, p.kv_row, 0, p.nk);
  cp_async_commit();
  const HalfScore hs = half_score(p, b, h, ALIBI);
  float acc[D / 8][4];
  zero(acc);
  float(&acc_flat)[D / 2] = reinterpret_cast<float(&)[D / 2]>(acc);
  float s[BN / 8][4];               // S_t, then P_t until the next step packs it
  float(&s_flat)[BN / 2] = reinterpret_cast<float(&)[BN / 2]>(s);
  uint32_t pf[BN / 16][4];          // P_{t−1} packed, the A operand of O += P_{t−1} V_{t−1}
  const int row0 = m0 + warp * 16;  // this warp's rows of the warpgroup's 64

  // The loads of the previous step are complete and visible to every thread and to wgmma, and every
  // warpgroup is done with the tiles that step read.
  auto next_step = [&]() {
    cp_async_wait_all();
    fence_async_shared();
    __syncthreads();
  };
  auto issue_pv = [&](int t) {
    const T* tile_v = s_v + (t % 3) * BN * D;
#pragma unroll
    for (int kk = 0; kk < BN / 16; kk++) wgmma_rs<D, T>(acc_flat, pf[kk], mn_major<BN>(tile_v, 0, kk));
    wgmma_commit();
  };
  // P of the last step into pf, once the product before it has read pf.
  auto pack_p = [&]() {
    wgmma_wait<0>();
    pin(acc_flat);
    to_a_fragments<BN, T>(pf, s);
  };
  // Step t < n_tiles; AFTER_FIRST (t > 0) adds O += P_{t−1} V_{t−1}. A compile-time flag, so that no
  // run-time branch separates a wgmma from the registers it uses.
  auto step = [&](auto after_first, int t) {
    constexpr bool PV = decltype(after_first)::value;
    next_step();
    if constexpr (PV) pack_p();
    zero(s);
    pin(s_flat);
    pin(acc_flat);
    wgmma_fence();
    const T* tile_k = s_k + (t & 1) * BN * D;
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
      wgmma_ss<BN, T>(s_flat, k_major<BM>(s_q, group * 64, kk), k_major<BN>(tile_k, 0, kk));
    }
    wgmma_commit();
    if constexpr (PV) issue_pv(t - 1);
    if (t + 1 < n_tiles) {
      share.load(s_k + ((t + 1) & 1) * BN * D, k_head, p.kv_row, t + 1, p.nk);
    }
    share.load(s_v + (t % 3) * BN * D, v_head, p.v_row, t, p.nk);
    cp_async_commit();
    wgmma_wait<PV ? 1 : 0>();  // S_t; P_{t−1} V_{t−1} may still run
    pin(s_flat);
    const int n0 = t * BN;
    if (CAUSAL && n0 + BN - 1 > row0 + offset) {
      sigmoid_weights<BN, ALIBI, true, false, ACCURATE>(s, hs, row0, n0, offset);
    } else {
      sigmoid_weights<BN, ALIBI, false, false, ACCURATE>(s, hs, row0, n0, offset);
    }
  };
  if (n_tiles > 0) {
    step(std::false_type{}, 0);
    for (int t = 1; t < n_tiles; t++) step(std::true_type{}, t);
    next_step();
    pack_p();
    wgmma_fence();
    issue_pv(n_tiles - 1);
    wgmma_wait<0>();
    pin(acc_flat);
  }
  cp_async_wait_all();  // a block without keys still has its Q load in flight
  __syncthreads();      // the staging below overwrites Q rows, which are done being read
  store_rows<D, T>(acc, 1.0f, s_q, warp * 16, o + b * p.o_batch + h * p.o_head, p.o_row, row0, p.nq);
#else
  __trap();  // the sm_80 image is never launched: forward_api.cu picks this kernel on 9.x only
#endif
}

template <typename T, int D, bool CAUSAL, bool ALIBI>
int launch_forward_sm90(const Problem& p, uint64_t q, uint64_t k, uint64_t v, uint64_t o, cudaStream_t stream) {
  constexpr int SMEM = sm90_shared_bytes<T, D>();
  auto kernel = forward_sm90_kernel<T, D, CAUSAL, ALIBI>;
  SIG_CUDA_CHECK("sigmoid_forward", cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
  const dim3 grid((p.nq + SM90_BM - 1) / SM90_BM, p.heads, p.batch);
  kernel<<<grid, SM90_THREADS, SMEM, stream>>>(p, az_ptr<const T>(q), az_ptr<const T>(k), az_ptr<const T>(v),
                                               az_ptr<T>(o));
  SIG_CUDA_CHECK("sigmoid_forward", cudaGetLastError());
  return AZ_OK;
}

// The wgmma launch of every variant, for dispatch_variant.
struct Sm90Forward {
  const Problem& p;
  uint64_t q, k, v, o;
  cudaStream_t stream;
  template <typename T, int D, bool CAUSAL, bool ALIBI>
  int run() const {
    return launch_forward_sm90<T, D, CAUSAL, ALIBI>(p, q, k, v, o, stream);
  }
};

int forward_sm90(const Problem& p, int dtype, int head_dim, bool causal, uint64_t q, uint64_t k, uint64_t v, uint64_t o,
                 cudaStream_t stream) {
  return dispatch_variant(dtype, head_dim, causal, p.slopes != nullptr, Sm90Forward{p, q, k, v, o, stream});
}

}  // namespace flash_sigmoid
