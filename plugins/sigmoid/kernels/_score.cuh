// The problem every FlashSigmoid kernel shares: shapes and element strides of q, k, v, o, and the
// score → weight map P = σ(s·q·k + b − slope·|i + Nk − Nq − j|), causal-masked to 0.
#pragma once
#include <cuda_bf16.h>
#include <stdint.h>

namespace flash_sigmoid {

struct Problem {
  int batch, heads, kv_heads, nq, nk;
  // Element strides (token, batch) of q and of k. The backward also applies q's to dO and dQ and k's
  // to v, dK and dV, with heads d apart ([B, N, H, d] contiguous, what make_problem fills).
  int64_t q_row, q_batch, kv_row, kv_batch;
  // Head strides of q and k, and the (token, batch, head) strides of v and o: the forward kernels read
  // every tensor through its own three strides ([B, N, H, d], [B, H, N, d], slices of a packed qkv).
  int64_t q_head, k_head, v_row, v_batch, v_head, o_row, o_batch, o_head;
  // Varlen batches (mma.sync forward only): sequence b's queries are rows [cu_q[b], cu_q[b + 1]) of
  // packed q/o, its keys rows [cu_k[b], cu_k[b + 1]) of packed k/v; nq and nk are then the longest.
  // Null for uniform batches.
  const int* cu_q;
  const int* cu_k;
  float scale, bias;
  const float* slopes;  // ALiBi slope of (batch, head) at b·slopes_batch_stride + h; null without ALiBi
  int slopes_batch_stride;
};

// Batch entry b's lengths and the element offsets of its first query / key row in q, k, v, o.
struct Sequence {
  int nq, nk;
  int64_t q, k, v, o;
};

__device__ __forceinline__ Sequence sequence(const Problem& p, int b) {
  if (p.cu_q == nullptr) return {p.nq, p.nk, b * p.q_batch, b * p.kv_batch, b * p.v_batch, b * p.o_batch};
  const int q0 = p.cu_q[b], k0 = p.cu_k[b];
  return {p.cu_q[b + 1] - q0, p.cu_k[b + 1] - k0, q0 * p.q_row, k0 * p.kv_row, k0 * p.v_row, q0 * p.o_row};
}

__device__ __forceinline__ float tanh_approx(float x) {
  float y;
  asm("tanh.approx.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// Scaled-down parameters so that σ(x) = 0.5·tanh(0.5·x) + 0.5 costs one FMA before the tanh.
struct HalfScore {
  float scale, bias, slope;
};

__device__ __forceinline__ HalfScore half_score(const Problem& p, int b, int h, bool alibi) {
  return {0.5f * p.scale, 0.5f * p.bias,
          alibi ? 0.5f * p.slopes[static_cast<int64_t>(b) * p.slopes_batch_stride + h] : 0.0f};
}

// Replaces a warp's 16 × COLS score accumulators by sigmoid weights. Rows are queries (or keys when
// KEY_ROWS) starting at row0, columns the other side starting at col0; `offset` = Nk − Nq. With
// MASK, weights of keys past query i + offset become exactly 0. ACCURATE computes 1 / (1 + e^−x)
// (two MUFU ops, ~1e-6 relative error) instead of 0.5·tanh.approx(0.5x) + 0.5 (one op, ~1e-3): f16
// rounds finely enough (2^-11) to expose the approximation, bf16 (2^-8) does not.
template <int COLS, bool ALIBI, bool MASK, bool KEY_ROWS, bool ACCURATE>
__device__ __forceinline__ void sigmoid_weights(float (&s)[COLS / 8][4], const HalfScore& hs, int row0, int col0,
                                                int offset) {
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int row = row0 + (lane >> 2);
  const int col = col0 + 2 * (lane & 3);
#pragma unroll
  for (int n = 0; n < COLS / 8; n++) {
#pragma unroll
    for (int e = 0; e < 4; e++) {
      const int r = row + (e >> 1) * 8;
      const int c = col + n * 8 + (e & 1);
      const int distance = KEY_ROWS ? c + offset - r : r + offset - c;
      float x = fmaf(s[n][e], hs.scale, hs.bias);
      if (ALIBI) x = fmaf(-hs.slope, fabsf(static_cast<float>(distance)), x);
      // x is half the logit
      float w = ACCURATE ? __fdividef(1.0f, 1.0f + __expf(-2.0f * x)) : fmaf(0.5f, tanh_approx(x), 0.5f);
      if (MASK && distance < 0) w = 0.0f;
      s[n][e] = w;
    }
  }
}

// Whether sigmoid_weights needs the accurate form for this element type.
template <typename T>
struct AccurateSigmoid {
  static constexpr bool value = true;
};
template <>
struct AccurateSigmoid<__nv_bfloat16> {
  static constexpr bool value = false;
};

}  // namespace flash_sigmoid
