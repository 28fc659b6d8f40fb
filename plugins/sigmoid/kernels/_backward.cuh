// The two backward implementations behind attnzoo_sigmoid_backward (backward.cu): the deterministic
// two-pass one there and the single pass with an atomic f32 dQ (backward_fused.cu).
#pragma once
#include <cuda_runtime.h>
#include <stdint.h>

#include "_score.cuh"

namespace flash_sigmoid {

// Device addresses of the inputs and the gradients of one backward call.
struct Gradients {
  uint64_t q, k, v, dout, dq, dk, dv;
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

// Single pass keyed on K/V tiles; dQ is summed in `dq_workspace` (f32, as many elements as dq) with
// atomics, then rounded into dq. Not bit-reproducible: the order of the additions varies.
int backward_fused(const Problem& p, int dtype, int head_dim, bool causal, const Gradients& g, uint64_t dq_workspace,
                   cudaStream_t stream);

}  // namespace flash_sigmoid
