// Row normalisations over the last dim: layer norm (mean/variance, optional affine) and RMS norm
// (optional weight; without it, TransNormerLLM's SRMSNorm). One block per row, f32 statistics,
// two passes over the row so the variance does not cancel.
#include "_reduce.h"
#include "_runtime.h"

namespace {

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
  int threads = az_row_threads(cols);
  AZ_DISPATCH_FLOAT(dtype, layer_norm_kernel<scalar_t><<<(unsigned)rows, threads, 0, az_stream()>>>(
                               az_ptr<scalar_t>(x), az_ptr<scalar_t>(weight), az_ptr<scalar_t>(bias),
                               az_ptr<scalar_t>(out), cols, eps));
  AZ_LAUNCH_CHECK("layer_norm");
  return AZ_OK;
}

/** RMS norm of `rows` rows of `cols`: x · rsqrt(mean(x²) + eps) · weight (weight 0: none). */
AZ_API int attnzoo_rms_norm(int dtype, uint64_t x, uint64_t weight, uint64_t out, int64_t rows, int64_t cols,
                            float eps) {
  AZ_REQUIRE_FLOAT("rms_norm", dtype);
  if (int status = check_rows("rms_norm", rows, cols)) return status;
  if (rows == 0) return AZ_OK;
  int threads = az_row_threads(cols);
  AZ_DISPATCH_FLOAT(dtype, rms_norm_kernel<scalar_t><<<(unsigned)rows, threads, 0, az_stream()>>>(
                               az_ptr<scalar_t>(x), az_ptr<scalar_t>(weight), az_ptr<scalar_t>(out), cols, eps));
  AZ_LAUNCH_CHECK("rms_norm");
  return AZ_OK;
}
