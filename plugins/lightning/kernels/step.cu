// Recurrent lightning attention for decoding: per token kv ← λ kv + kᵀ v, o = q kv, with the f32
// state [batch, heads, d, e] updated in place. A CTA owns 32 value columns of one (batch, head);
// its eight warps split the d rows of the state (registers), and o sums their partial dots.
#include "_problem.cuh"

namespace lightning {

constexpr int STEP_GROUPS = 8;  // warps; warp w owns state rows w, w + 8, …
constexpr int STEP_COLS = 32;   // value columns per CTA, one per lane

template <typename T, int D>
__global__ void __launch_bounds__(STEP_GROUPS * 32) step_kernel(Problem p) {
  constexpr int R = D / STEP_GROUPS;
  __shared__ float partial[STEP_GROUPS][STEP_COLS];
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int group = static_cast<int>(threadIdx.x) >> 5;
  const int col = static_cast<int>(blockIdx.x) * STEP_COLS + lane;
  const int h = static_cast<int>(blockIdx.y);
  const int b = static_cast<int>(blockIdx.z);
  const float lambda = expf(-p.rates[h]);
  const T* q = static_cast<const T*>(p.q) + b * p.qs.batch + h * p.qs.head;
  const T* k = static_cast<const T*>(p.k) + b * p.ks.batch + h * p.ks.head;
  const T* v = static_cast<const T*>(p.v) + b * p.vs.batch + h * p.vs.head;
  T* o = static_cast<T*>(p.o) + b * p.os.batch + h * p.os.head;
  float* state = p.state_out + (static_cast<int64_t>(b) * p.heads + h) * D * p.e + col;

  float s[R];
#pragma unroll
  for (int r = 0; r < R; r++) s[r] = state[static_cast<int64_t>(group + STEP_GROUPS * r) * p.e];
  for (int token = 0; token < p.n; token++) {
    const float vx = az_load(v, token * p.vs.token + col);
    float dot = 0.0f;
#pragma unroll
    for (int r = 0; r < R; r++) {
      const int i = group + STEP_GROUPS * r;
      s[r] = lambda * s[r] + az_load(k, token * p.ks.token + i) * vx;
      dot += az_load(q, token * p.qs.token + i) * s[r];
    }
    partial[group][lane] = dot;
    __syncthreads();
    if (group == 0) {
      float sum = 0.0f;
#pragma unroll
      for (int w = 0; w < STEP_GROUPS; w++) sum += partial[w][lane];
      o[token * p.os.token + col] = static_cast<T>(sum);
    }
    __syncthreads();
  }
#pragma unroll
  for (int r = 0; r < R; r++) state[static_cast<int64_t>(group + STEP_GROUPS * r) * p.e] = s[r];
}

template <typename T>
static int launch_step(const char* op, const Problem& p, cudaStream_t stream) {
  const dim3 grid(p.e / STEP_COLS, p.heads, p.batch);
  switch (p.d) {
    case 64:
      step_kernel<T, 64><<<grid, STEP_GROUPS * 32, 0, stream>>>(p);
      break;
    case 128:
      step_kernel<T, 128><<<grid, STEP_GROUPS * 32, 0, stream>>>(p);
      break;
    default:
      step_kernel<T, 256><<<grid, STEP_GROUPS * 32, 0, stream>>>(p);
  }
  LA_CUDA_CHECK(op, cudaGetLastError());
  return AZ_OK;
}

}  // namespace lightning

/**
 * Recurrent lightning attention over n tokens after the state: for each token in order,
 * state ← λ state + kᵀ v and o = q state. Operands, strides and rates as attnzoo_lightning_forward;
 * state: f32 [batch, heads, d, e] device array, read and updated in place (required).
 */
AZ_API int attnzoo_lightning_step(int dtype, uint64_t q, uint64_t k, uint64_t v, uint64_t o, uint64_t rates,
                                  uint64_t state, int batch, int heads, int n, int d, int e, int64_t q_batch,
                                  int64_t q_head, int64_t q_token, int64_t k_batch, int64_t k_head, int64_t k_token,
                                  int64_t v_batch, int64_t v_head, int64_t v_token, int64_t o_batch, int64_t o_head,
                                  int64_t o_token, uint64_t stream) {
  using namespace lightning;
  const char* op = "lightning_step";
  const int64_t strides[12] = {q_batch, q_head, q_token, k_batch, k_head, k_token,
                               v_batch, v_head, v_token, o_batch, o_head, o_token};
  Problem p;
  LA_CHECK(make_problem(op, dtype, q, k, v, o, rates, batch, heads, n, d, e, strides, &p));
  if (state == 0) return fail(AZ_INVALID, op, "state is a null device pointer");
  LA_CHECK(check_state(op, "state", state));
  p.state_out = reinterpret_cast<float*>(state);
  cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  return dtype == AZ_BF16 ? launch_step<__nv_bfloat16>(op, p, s) : launch_step<__half>(op, p, s);
}
