// Row normalisations over the last dim: layer norm (mean/variance, optional affine) and RMS norm
// (optional weight; without it, TransNormerLLM's SRMSNorm). F32 statistics, two passes over the
// row so the variance does not cancel. Rows of up to 2048 live in one warp's registers (read
// once, in 16-byte packs when the row allows); longer rows get one block each.
#include "_pack.h"
#include "_reduce.h"
#include "_runtime.h"

namespace {

constexpr int kWarpRowsPerBlock = 4;
// Longest row the warp kernels hold (64 values per lane).
constexpr int64_t kWarpMaxCols = 2048;

// One warp per row of `cols` (V divides cols): lane l holds packs l, l + 32, ... (ITERS of them).
// RMS is 1 for RMS norm (no mean, no bias).
template <typename T, int V, int ITERS, bool RMS>
__global__ void norm_warp_rows(const T* x, const T* weight, const T* bias, T* out, int64_t rows, int cols,
                               float eps) {
  const int64_t row = blockIdx.x * (int64_t)kWarpRowsPerBlock + (threadIdx.x >> 5);
  if (row >= rows) return;
  const int lane = threadIdx.x & 31;
  const T* src = x + row * cols;
  float v[ITERS][V];
  float s = 0.0f;
#pragma unroll
  for (int it = 0; it < ITERS; it++) {
    const int c = (it * 32 + lane) * V;
    if (c < cols) {
      az_load_pack<V>(src, c, v[it]);
#pragma unroll
      for (int k = 0; k < V; k++) s += RMS ? v[it][k] * v[it][k] : v[it][k];
    }
  }
  const float mean = RMS ? 0.0f : az_warp_sum(s) / (float)cols;
  float sq = RMS ? s : 0.0f;
  if (!RMS) {
#pragma unroll
    for (int it = 0; it < ITERS; it++) {
      if ((it * 32 + lane) * V < cols) {
#pragma unroll
        for (int k = 0; k < V; k++) {
          const float d = v[it][k] - mean;
          sq += d * d;
        }
      }
    }
  }
  const float rstd = rsqrtf(az_warp_sum(sq) / (float)cols + eps);
  T* dst = out + row * cols;
#pragma unroll
  for (int it = 0; it < ITERS; it++) {
    const int c = (it * 32 + lane) * V;
    if (c < cols) {
      float w[V], b[V];
      if (weight != nullptr) az_load_pack<V>(weight, c, w);
      if (!RMS && bias != nullptr) az_load_pack<V>(bias, c, b);
#pragma unroll
      for (int k = 0; k < V; k++) {
        float y = (v[it][k] - mean) * rstd;
        if (weight != nullptr) y *= w[k];
        if (!RMS && bias != nullptr) y += b[k];
        v[it][k] = y;
      }
      az_store_pack<V>(dst, c, v[it]);
    }
  }
}

template <typename T, int V, int ITERS, int MAX, bool RMS>
void launch_norm_warp_rows(const T* x, const T* weight, const T* bias, T* out, int64_t rows, int cols, float eps) {
  if constexpr (ITERS < MAX) {
    if (cols > 32 * V * ITERS) {
      return launch_norm_warp_rows<T, V, ITERS * 2, MAX, RMS>(x, weight, bias, out, rows, cols, eps);
    }
  }
  const unsigned blocks = (unsigned)((rows + kWarpRowsPerBlock - 1) / kWarpRowsPerBlock);
  norm_warp_rows<T, V, ITERS, RMS>
      <<<blocks, 32 * kWarpRowsPerBlock, 0, az_stream()>>>(x, weight, bias, out, rows, cols, eps);
}

// Packs when V | cols and every tensor is aligned; else one element per lane and step (rows up to
// 1024), else false: the block kernel takes the row.
template <typename T, bool RMS>
bool launch_norm_warp(const T* x, const T* weight, const T* bias, T* out, int64_t rows, int64_t cols, float eps) {
  constexpr int V = az_vec16<T>();
  if (cols % V == 0 && cols <= kWarpMaxCols && az_aligned(16, x, weight, bias, out)) {
    launch_norm_warp_rows<T, V, 1, kWarpMaxCols / 32 / V, RMS>(x, weight, bias, out, rows, (int)cols, eps);
    return true;
  }
  if (cols <= 32 * 32) {
    launch_norm_warp_rows<T, 1, 1, 32, RMS>(x, weight, bias, out, rows, (int)cols, eps);
    return true;
  }
  return false;
}

template <typename T>
__global__ void layer_norm_kernel(const T* x, const T* weight, const T* bias, T* out, int64_t cols, float eps) {
  __shared__ float scratch[32];
  const int64_t base = blockIdx.x * cols;
  float s = 0.0f;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) s += az_load(x, base + j);
  const float mean = az_block_sum(s, scratch) / (float)cols;
  float sq = 0.0f;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    float d = az_load(x, base + j) - mean;
    sq += d * d;
  }
  const float rstd = rsqrtf(az_block_sum(sq, scratch) / (float)cols + eps);
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    float y = (az_load(x, base + j) - mean) * rstd;
    if (weight != nullptr) y *= az_load(weight, j);
    if (bias != nullptr) y += az_load(bias, j);
    az_store(out, base + j, y);
  }
}

template <typename T>
__global__ void rms_norm_kernel(const T* x, const T* weight, T* out, int64_t cols, float eps) {
  __shared__ float scratch[32];
  const int64_t base = blockIdx.x * cols;
  float sq = 0.0f;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    float v = az_load(x, base + j);
    sq += v * v;
  }
  const float rms = rsqrtf(az_block_sum(sq, scratch) / (float)cols + eps);
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    float y = az_load(x, base + j) * rms;
    if (weight != nullptr) y *= az_load(weight, j);
    az_store(out, base + j, y);
  }
}

int check_rows(const char* op, int64_t rows, int64_t cols) {
  if (rows < 0 || cols <= 0)
    return az_fail(AZ_INVALID, op, "%lld rows of %lld (need cols > 0)", (long long)rows, (long long)cols);
  if (rows > 2147483647LL) return az_fail(AZ_INVALID, op, "%lld rows exceed the grid", (long long)rows);
  return AZ_OK;
}

}  // namespace

/** Layer norm of `rows` rows of `cols`; weight and bias are [cols] handles or 0 for none. */
AZ_API int attnzoo_layer_norm(int dtype, uint64_t x, uint64_t weight, uint64_t bias, uint64_t out, int64_t rows,
                              int64_t cols, float eps) {
  AZ_REQUIRE_FLOAT("layer_norm", dtype);
  if (int status = check_rows("layer_norm", rows, cols)) return status;
  if (rows == 0) return AZ_OK;
  bool warp = false;
  AZ_DISPATCH_FLOAT(dtype, warp = launch_norm_warp<scalar_t, false>(az_ptr<scalar_t>(x), az_ptr<scalar_t>(weight),
                                                                    az_ptr<scalar_t>(bias), az_ptr<scalar_t>(out),
                                                                    rows, cols, eps));
  if (!warp) {
    AZ_DISPATCH_FLOAT(dtype, layer_norm_kernel<scalar_t><<<(unsigned)rows, az_row_threads(cols), 0, az_stream()>>>(
                                 az_ptr<scalar_t>(x), az_ptr<scalar_t>(weight), az_ptr<scalar_t>(bias),
                                 az_ptr<scalar_t>(out), cols, eps));
  }
  AZ_LAUNCH_CHECK("layer_norm");
  return AZ_OK;
}

/** RMS norm of `rows` rows of `cols`: x · rsqrt(mean(x²) + eps) · weight (weight 0: none). */
AZ_API int attnzoo_rms_norm(int dtype, uint64_t x, uint64_t weight, uint64_t out, int64_t rows, int64_t cols,
                            float eps) {
  AZ_REQUIRE_FLOAT("rms_norm", dtype);
  if (int status = check_rows("rms_norm", rows, cols)) return status;
  if (rows == 0) return AZ_OK;
  bool warp = false;
  AZ_DISPATCH_FLOAT(dtype, warp = launch_norm_warp<scalar_t, true>(az_ptr<scalar_t>(x), az_ptr<scalar_t>(weight),
                                                                   nullptr, az_ptr<scalar_t>(out), rows, cols, eps));
  if (!warp) {
    AZ_DISPATCH_FLOAT(dtype, rms_norm_kernel<scalar_t><<<(unsigned)rows, az_row_threads(cols), 0, az_stream()>>>(
                                 az_ptr<scalar_t>(x), az_ptr<scalar_t>(weight), az_ptr<scalar_t>(out), cols, eps));
  }
  AZ_LAUNCH_CHECK("rms_norm");
  return AZ_OK;
}
