// FlashSigmoid forward for Hopper (sm_90a): forward.cu's algorithm with both products on wgmma.
// One block of two warpgroups per 128-row Q tile; each warpgroup owns 64 rows. S = Q Kᵀ takes Q and
// K from shared memory, O += P V takes P from registers (the wgmma accumulator layout of S is the
// register A layout) and V from shared memory (N-major, transposed by the instruction). Tiles sit
// in the 128-byte-swizzle layout wgmma reads: [D/64][rows][64], 16-byte chunk c of row r at c ^ (r % 8).
//
// Step t of a warpgroup: issue S_t = Q K_tᵀ, then O += P_{t−1} V_{t−1}, wait for S_t only, compute
// σ(S_t), wait for that product and pack P_t into the registers it read. Meant to run the sigmoid under
// the product; ptxas, however, moves the second wait above most of the tanh (NOTES.md, v6: the
// packing, which must follow it, is interleaved with them), so only part of it overlaps. K and V
// tiles are double-buffered: K_{t+1} and V_t load during step t, and the block barrier that starts
// step t + 1 makes them visible and frees the stages read in step t − 1.
#include <type_traits>

#include "_dispatch.cuh"
#include "_forward.cuh"
#include "_score.cuh"
#include "_status.cuh"
#include "_wgmma.cuh"

namespace flash_sigmoid {

using namespace attnzoo::mma;

constexpr int SM90_BM = 128, SM90_BN = 128, SM90_THREADS = 256;

template <typename T, int D>
constexpr int sm90_shared_bytes() {
  return (SM90_BM + 4 * SM90_BN) * D * static_cast<int>(sizeof(T));  // Q, two K and two V stages
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
  T* s_v = s_k + 2 * BN * D;            // two stages of [D/64][BN][64]

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
  if (n_tiles > 0) load_tile_wgmma<BN, D, THREADS>(s_k, k_head, p.kv_row, 0, p.nk);
  cp_async_commit();
  const HalfScore hs = half_score(p, b, h, ALIBI);
  float acc[D / 8][4];
  zero(acc);
  float(&acc_flat)[D / 2] = reinterpret_cast<float(&)[D / 2]>(acc);
  uint32_t pf[BN / 16][4];          // P of the last step, the A operand of the next O += P V
  const int row0 = m0 + warp * 16;  // this warp's rows of the warpgroup's 64

  // The loads of the previous step are complete and visible to every thread and to wgmma, and every
  // warpgroup is done with the tiles that step read.
  auto next_step = [&]() {
    cp_async_wait_all();
    fence_async_shared();
    __syncthreads();
  };
  auto issue_pv = [&](int t) {
    const T* tile_v = s_v + (t & 1) * BN * D;
#pragma unroll
    for (int kk = 0; kk < BN / 16; kk++) wgmma_rs<D, T>(acc_flat, pf[kk], mn_major<BN>(tile_v, 0, kk));
    wgmma_commit();
  };
  // Step t < n_tiles; AFTER_FIRST (t > 0) adds O += P_{t−1} V_{t−1}. A compile-time flag, so that no
  // run-time branch separates a wgmma from the registers it uses.
  auto step = [&](auto after_first, int t) {
    constexpr bool PV = decltype(after_first)::value;
    next_step();
    float s[BN / 8][4];
    float(&s_flat)[BN / 2] = reinterpret_cast<float(&)[BN / 2]>(s);
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
      load_tile_wgmma<BN, D, THREADS>(s_k + ((t + 1) & 1) * BN * D, k_head, p.kv_row, (t + 1) * BN, p.nk);
    }
    load_tile_wgmma<BN, D, THREADS>(s_v + (t & 1) * BN * D, v_head, p.v_row, t * BN, p.nk);
    cp_async_commit();
    wgmma_wait<PV ? 1 : 0>();  // S_t; P_{t−1} V_{t−1} may still run
    pin(s_flat);
    const int n0 = t * BN;
    if (CAUSAL && n0 + BN - 1 > row0 + offset) {
      sigmoid_weights<BN, ALIBI, true, false, ACCURATE>(s, hs, row0, n0, offset);
    } else {
      sigmoid_weights<BN, ALIBI, false, false, ACCURATE>(s, hs, row0, n0, offset);
    }
    if constexpr (PV) {
      wgmma_wait<0>();  // P_{t−1} V_{t−1} has read pf
      pin(acc_flat);
    }
    to_a_fragments<BN, T>(pf, s);
  };
  if (n_tiles > 0) {
    step(std::false_type{}, 0);
    for (int t = 1; t < n_tiles; t++) step(std::true_type{}, t);
    next_step();
    pin(acc_flat);
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
