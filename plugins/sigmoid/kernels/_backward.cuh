// The two backward implementations behind attnzoo_sigmoid_backward (backward.cu): the deterministic
// two-pass one there and the single pass with an atomic f32 dQ (backward_fused.cu).
#pragma once
#include <cuda_runtime.h>
#include <stdint.h>

#include "_dispatch.cuh"
#include "_score.cuh"

namespace flash_sigmoid {

// Device addresses of the inputs and the gradients of one backward call.
struct Gradients {
  uint64_t q, k, v, dout, dq, dk, dv;
};

// Head dims of the single-pass kernels (the two-pass ones also take 256): d 32 and 96 run in the 64-
// and 128-wide tiles of d 64 and 128, their extra columns loaded as zeros and never stored (tile_dim
// in _forward.cuh).
using SinglePassHeadDims = HeadDims<32, 64, 96, 128>;

// Batch entry b of a backward call: its lengths, the first element of its q/dO/dQ rows and of its
// K/V/dK/dV rows (a packed varlen sequence, or batch entry b of uniform [B, N, H, d] tensors).
struct BackwardRows {
  int nq, nk;
  int64_t q, kv;
};

__device__ __forceinline__ BackwardRows backward_rows(const Problem& p, int b) {
  const Sequence seq = sequence(p, b);
  return {seq.nq, seq.nk, seq.q, seq.k};
}

// What a block owning keys [k0, k0 + BK) of kv head hk in batch entry b loops over (the keys pass
// and both single passes): the BQ-row query tiles that see at least one of its keys (query i sees
// key j when j ≤ i + offset, offset = Nk − Nq), for every query head of the group. Step s covers
// query head head(s), rows [q_row0(s), + BQ) starting at element q_offset(s) + q_row0(s)·q_row.
template <int BQ, bool CAUSAL>
struct KeyTileSteps {
  const Problem& p;
  BackwardRows rows;
  int hk, group, offset, q_tile0, q_tiles, steps;

  __device__ __forceinline__ KeyTileSteps(const Problem& problem, int b, int kv_head, int k0)
      : p(problem), rows(backward_rows(problem, b)), hk(kv_head), group(problem.heads / problem.kv_heads) {
    offset = rows.nk - rows.nq;
    const int first_query = CAUSAL ? max(0, k0 - offset) : 0;
    q_tile0 = first_query / BQ;
    q_tiles = first_query < rows.nq ? (rows.nq + BQ - 1) / BQ - q_tile0 : 0;
    steps = q_tiles * group;
  }
  // The first element of this kv head's K/V (and dK/dV) rows.
  __device__ __forceinline__ int64_t kv_base() const { return rows.kv + static_cast<int64_t>(hk) * p.k_head; }
  __device__ __forceinline__ int head(int step) const { return hk * group + step / q_tiles; }
  __device__ __forceinline__ int64_t q_offset(int step) const {
    return rows.q + static_cast<int64_t>(head(step)) * p.q_head;
  }
  __device__ __forceinline__ int q_row0(int step) const { return (q_tile0 + step % q_tiles) * BQ; }
};

// dS = P ⊙ (1 − P) ⊙ dP, in place of dP.
template <int COLS>
__device__ __forceinline__ void sigmoid_grad(float (&dp)[COLS / 8][4], const float (&w)[COLS / 8][4]) {
#pragma unroll
  for (int n = 0; n < COLS / 8; n++) {
#pragma unroll
    for (int e = 0; e < 4; e++) dp[n][e] *= w[n][e] * (1.0f - w[n][e]);
  }
}

// dst[0..1] += (a, b): one vector reduction on sm_90 (no value comes back), two scalar ones before.
__device__ __forceinline__ void add_pair(float* dst, float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("red.global.add.v2.f32 [%0], {%1, %2};\n" ::"l"(dst), "f"(a), "f"(b) : "memory");
#else
  atomicAdd(dst, a);
  atomicAdd(dst + 1, b);
#endif
}

// Single pass keyed on K/V tiles; dQ is summed in `dq_workspace` (f32, as many elements as dq) with
// atomics, then rounded into dq. Not bit-reproducible: the order of the additions varies.
// `wgmma` (compute capability 9.x only) runs the key-side kernel of backward_sm90.cu, otherwise the
// mma.sync one of backward_fused.cu; both share the workspace clearing and the rounding of its
// `dq_elements` floats (as many as dq has).
int backward_fused(const Problem& p, int dtype, int head_dim, bool causal, const Gradients& g, uint64_t dq_workspace,
                   int64_t dq_elements, bool wgmma, cudaStream_t stream);

// The wgmma key-side kernel: adds scale-free dQ into dq_sum, writes dK and dV (backward_sm90.cu).
int backward_sm90(const Problem& p, int dtype, int head_dim, bool causal, const Gradients& g, float* dq_sum,
                  cudaStream_t stream);

}  // namespace flash_sigmoid
