// Sum or mean along one dim of a tensor viewed as [outer, dim, inner], accumulated in f32.
#include "_reduce.h"
#include "_runtime.h"

namespace {

template <typename T>
__global__ void reduce_rows(const T* x, T* out, int64_t cols, float scale) {
  __shared__ float scratch[32];
  const int64_t base = blockIdx.x * cols;
  float s = 0.0f;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) s += az_load(x, base + j);
  s = az_block_sum(s, scratch);
  if (threadIdx.x == 0) az_store(out, blockIdx.x, s * scale);
}

template <typename T>
__global__ void reduce_strided(const T* x, T* out, int64_t outer, int64_t dim, int64_t inner, float scale) {
  for (int64_t r = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; r < outer * inner;
       r += (int64_t)gridDim.x * blockDim.x) {
    const int64_t base = (r / inner) * dim * inner + r % inner;
    float s = 0.0f;
    for (int64_t j = 0; j < dim; j++) s += az_load(x, base + j * inner);
    az_store(out, r, s * scale);
  }
}

}  // namespace

/** out[outer, inner] = sum (mean when `mean` is 1) of x[outer, :, inner]. */
AZ_API int attnzoo_reduce(int mean, int dtype, uint64_t x, uint64_t out, int64_t outer, int64_t dim, int64_t inner) {
  AZ_REQUIRE_FLOAT("reduce", dtype);
  if (outer < 0 || dim < 0 || inner < 0) return az_fail(AZ_INVALID, "reduce", "negative extent");
  if (outer * inner == 0) return AZ_OK;
  // mean over an empty dim is NaN, as in PyTorch; the sum is 0
  const float scale = mean != 0 ? (dim == 0 ? NAN : 1.0f / (float)dim) : 1.0f;
  if (inner == 1 && outer <= 2147483647LL) {
    AZ_DISPATCH_FLOAT(dtype, reduce_rows<scalar_t><<<(unsigned)outer, az_row_threads(dim), 0, az_stream()>>>(
                                 az_ptr<scalar_t>(x), az_ptr<scalar_t>(out), dim, scale));
  } else {
    AZ_DISPATCH_FLOAT(dtype, reduce_strided<scalar_t><<<az_blocks(outer * inner, 256), 256, 0, az_stream()>>>(
                                 az_ptr<scalar_t>(x), az_ptr<scalar_t>(out), outer, dim, inner, scale));
  }
  AZ_LAUNCH_CHECK("reduce");
  return AZ_OK;
}
