// Next-token choice, one block per row of logits [B, V]: greedy (argmax) or temperature sampling
// restricted to the top-k tokens and the top-p nucleus, drawing with the caller's uniform numbers.
// The rule is the CPU backend's (core/backends/cpu/_sampling.ts): tokens ranked by descending
// logit, lower index first on ties. Each "first token in rank order at which a running sum reaches
// a target" (the k-th token, the end of the nucleus, the drawn token) is found without sorting:
// bisection over the logits' order-preserving 32-bit keys (one block-wide sum per bit), then one
// index-order pass over the tokens sharing the final key. Sums are doubles so that the CPU and the
// GPU pick the same tokens unless a draw falls within rounding of a boundary.
#include "_runtime.h"

namespace {

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;
constexpr unsigned kFull = 0xffffffffu;

// Unsigned key ordered like the float (−0 and +0 share one).
__device__ __forceinline__ uint32_t order_key(float v) {
  const uint32_t bits = __float_as_uint(v == 0.0f ? 0.0f : v);
  return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

// The tokens still in the running: rank order up to and including (key, index).
struct Cut {
  uint32_t key;
  int64_t index;
  __device__ bool holds(uint32_t k, int64_t i) const { return k > key || (k == key && i <= index); }
};

// A token and the running sum through it in rank order.
struct Position {
  uint32_t key;
  int64_t index;
  double cum;
};

// One row: what each token adds to a running sum (1 to count tokens, else its softmax weight).
template <typename T>
struct Row {
  const T* logits;
  int64_t vocab;
  float max;
  float temperature;
  bool count;
  __device__ float value(int64_t i) const { return az_load(logits, i); }
  __device__ double weight(float v) const { return count ? 1.0 : (double)expf((v - max) / temperature); }
};

// Sum over the block; every thread gets it.
__device__ double block_sum(double v, double* scratch) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFull, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // the previous call may still read scratch
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = scratch[lane];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFull, v, o);
  return v;
}

// Inclusive prefix sum in thread order; `total` gets the block's sum.
__device__ double block_scan(double v, double* scratch, double& total) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int o = 1; o < 32; o <<= 1) {
    const double n = __shfl_up_sync(kFull, v, o);
    if (lane >= o) v += n;
  }
  __syncthreads();
  if (lane == 31) scratch[warp] = v;
  __syncthreads();
  double before = 0.0;
  total = 0.0;
  for (int w = 0; w < kWarps; ++w) {
    if (w < warp) before += scratch[w];
    total += scratch[w];
  }
  return v + before;
}

// Sum of the row's quantity over the tokens in `cut` whose key is at least `from`.
template <typename T>
__device__ double sum_from(const Row<T>& row, Cut cut, uint32_t from, double* scratch) {
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < row.vocab; i += kThreads) {
    const float v = row.value(i);
    const uint32_t k = order_key(v);
    if (k >= from && cut.holds(k, i)) s += row.weight(v);
  }
  return block_sum(s, scratch);
}

// The first token of `cut` in rank order whose running sum reaches `target` (`top`, the first
// token, when target ≤ 0; the last one when rounding leaves the whole cut just short).
template <typename T>
__device__ Position select_first(const Row<T>& row, Cut cut, double target, Position top, double* scratch) {
  __shared__ Position found;
  __shared__ int hit_thread, last_thread;
  if (target <= 0.0) return top;
  target = fmin(target, sum_from(row, cut, 0u, scratch));
  // the largest key whose tokens at or above it reach the target
  uint32_t key = 0;
  for (int bit = 31; bit >= 0; --bit) {
    const uint32_t probe = key | (1u << bit);
    if (sum_from(row, cut, probe, scratch) >= target) key = probe;
  }
  double run = key == 0xffffffffu ? 0.0 : sum_from(row, cut, key + 1, scratch);
  // the tokens sharing that key, in index order
  for (int64_t base = 0; base < row.vocab; base += kThreads) {
    const int64_t i = base + threadIdx.x;
    bool tied = false;
    double q = 0.0;
    if (i < row.vocab) {
      const float v = row.value(i);
      const uint32_t k = order_key(v);
      tied = k == key && cut.holds(k, i);
      if (tied) q = row.weight(v);
    }
    double chunk = 0.0;
    const double cum = run + block_scan(q, scratch, chunk);
    if (threadIdx.x == 0) hit_thread = last_thread = -1;
    __syncthreads();
    if (tied && cum >= target) atomicMin(reinterpret_cast<unsigned*>(&hit_thread), threadIdx.x);
    if (tied) atomicMax(&last_thread, (int)threadIdx.x);
    __syncthreads();
    const int pick = hit_thread >= 0 ? hit_thread : last_thread;
    if (pick == (int)threadIdx.x) found = Position{key, i, cum};
    __syncthreads();
    if (hit_thread >= 0) break;
    run += chunk;
  }
  const Position result = found;
  __syncthreads();  // `found` is reused by the next call
  return result;
}

// The first largest logit: the top of the rank order.
template <typename T>
__device__ Position argmax(const T* logits, int64_t vocab) {
  __shared__ unsigned long long best[kWarps];
  // key in the high word, complemented index in the low one: the max is the largest key, lowest index
  unsigned long long packed = 0;
  for (int64_t i = threadIdx.x; i < vocab; i += kThreads) {
    const unsigned long long p =
        ((unsigned long long)order_key(az_load(logits, i)) << 32) | (0xffffffffull - (unsigned long long)i);
    if (p > packed) packed = p;
  }
  for (int o = 16; o > 0; o >>= 1) {
    const unsigned long long other = __shfl_xor_sync(kFull, packed, o);
    if (other > packed) packed = other;
  }
  if (threadIdx.x % 32 == 0) best[threadIdx.x / 32] = packed;
  __syncthreads();
  packed = best[threadIdx.x % 32];
  for (int o = 16; o > 0; o >>= 1) {
    const unsigned long long other = __shfl_xor_sync(kFull, packed, o);
    if (other > packed) packed = other;
  }
  return Position{(uint32_t)(packed >> 32), (int64_t)(0xffffffffull - (packed & 0xffffffffull)), 1.0};
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    sample_kernel(const T* logits, const double* uniforms, int32_t* out, int64_t vocab, float temperature,
                  int64_t top_k, double top_p) {
  __shared__ double scratch[kWarps];
  const T* row_logits = logits + (int64_t)blockIdx.x * vocab;
  const Position top = argmax(row_logits, vocab);
  if (temperature <= 0.0f) {
    if (threadIdx.x == 0) out[blockIdx.x] = (int32_t)top.index;
    return;
  }
  Row<T> row{row_logits, vocab, az_load(row_logits, top.index), temperature, false};
  Cut cut{0u, vocab - 1};  // every token
  if (top_k > 0 && top_k < vocab) {
    Row<T> counting = row;
    counting.count = true;
    const Position kth = select_first(counting, cut, (double)top_k, top, scratch);
    cut = Cut{kth.key, kth.index};
  }
  double mass;
  if (top_p < 1.0) {
    const Position end = select_first(row, cut, top_p * sum_from(row, cut, 0u, scratch), top, scratch);
    cut = Cut{end.key, end.index};
    mass = end.cum;
  } else {
    mass = sum_from(row, cut, 0u, scratch);
  }
  const Position drawn = select_first(row, cut, uniforms[blockIdx.x] * mass, top, scratch);
  if (threadIdx.x == 0) out[blockIdx.x] = (int32_t)drawn.index;
}

}  // namespace

/**
 * Picks one token id per row of `logits` [rows, vocab] into i32 `out` [rows]: greedy when
 * temperature ≤ 0, else a draw by host `uniforms` [rows] (each in [0, 1)) from the softmax of
 * logits / temperature over the top-k tokens (k ≤ 0: all) cut to the top-p nucleus (p ≥ 1: all).
 */
AZ_API int attnzoo_sample_tokens(int dtype, uint64_t logits, const double* uniforms, uint64_t out, int64_t rows,
                                 int64_t vocab, double temperature, int64_t top_k, double top_p) {
  AZ_REQUIRE_FLOAT("sample_tokens", dtype);
  if (rows == 0) return AZ_OK;
  if (rows > 2147483647LL || vocab < 1 || vocab > 2147483647LL) {
    return az_fail(AZ_INVALID, "sample_tokens", "rows %lld or vocab %lld out of range", (long long)rows,
                   (long long)vocab);
  }
  double* draws = nullptr;
  if (int status = az_alloc("sample_tokens", rows * sizeof(double), reinterpret_cast<void**>(&draws))) return status;
  // from pageable memory the copy has read `uniforms` when it returns; the kernel runs after it
  cudaError_t err = cudaMemcpyAsync(draws, uniforms, rows * sizeof(double), cudaMemcpyHostToDevice, az_stream());
  if (err == cudaSuccess) {
    AZ_DISPATCH_FLOAT(dtype, sample_kernel<scalar_t><<<(unsigned)rows, kThreads, 0, az_stream()>>>(
                                 az_ptr<scalar_t>(logits), draws, az_ptr<int32_t>(out), vocab, (float)temperature,
                                 top_k, top_p));
    err = cudaGetLastError();
  }
  // later ops reuse the block in stream order, after this kernel
  az_release(draws);
  if (err != cudaSuccess) return az_fail(AZ_CUDA, "sample_tokens", "%s", cudaGetErrorString(err));
  return AZ_OK;
}
