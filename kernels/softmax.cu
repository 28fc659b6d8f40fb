// Numerically stable softmax along one dim of a tensor viewed as [outer, dim, inner]. Rows along
// the last dim (inner = 1) get one block each; otherwise one thread walks each strided row, which
// keeps neighbouring threads on neighbouring addresses.
#include "_reduce.h"
#include "_runtime.h"

namespace {

template <typename T>
__global__ void softmax_rows(const T* x, T* out, int64_t cols) {
  __shared__ float scratch[32];
  const int64_t base = blockIdx.x * cols;
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, az_load(x, base + j));
  m = az_block_max(m, scratch);
  float s = 0.0f;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) s += expf(az_load(x, base + j) - m);
  const float inv = 1.0f / az_block_sum(s, scratch);
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
    az_store(out, base + j, expf(az_load(x, base + j) - m) * inv);
}

template <typename T>
__global__ void softmax_strided(const T* x, T* out, int64_t outer, int64_t dim, int64_t inner) {
  for (int64_t r = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; r < outer * inner;
       r += (int64_t)gridDim.x * blockDim.x) {
    const int64_t base = (r / inner) * dim * inner + r % inner;
    float m = -INFINITY;
    for (int64_t j = 0; j < dim; j++) m = fmaxf(m, az_load(x, base + j * inner));
    float s = 0.0f;
    for (int64_t j = 0; j < dim; j++) s += expf(az_load(x, base + j * inner) - m);
    const float inv = 1.0f / s;
    for (int64_t j = 0; j < dim; j++) az_store(out, base + j * inner, expf(az_load(x, base + j * inner) - m) * inv);
  }
}

}  // namespace

/** Softmax of x viewed as [outer, dim, inner] along the middle axis. */
AZ_API int attnzoo_softmax(int dtype, uint64_t x, uint64_t out, int64_t outer, int64_t dim, int64_t inner) {
  AZ_REQUIRE_FLOAT("softmax", dtype);
  if (outer < 0 || dim < 0 || inner < 0) return az_fail(AZ_INVALID, "softmax", "negative extent");
  if (outer * dim * inner == 0) return AZ_OK;
  if (inner == 1 && outer <= 2147483647LL) {
    AZ_DISPATCH_FLOAT(dtype, softmax_rows<scalar_t><<<(unsigned)outer, az_row_threads(dim), 0, az_stream()>>>(
                                 az_ptr<scalar_t>(x), az_ptr<scalar_t>(out), dim));
  } else {
    AZ_DISPATCH_FLOAT(dtype, softmax_strided<scalar_t><<<az_blocks(outer * inner, 256), 256, 0, az_stream()>>>(
                                 az_ptr<scalar_t>(x), az_ptr<scalar_t>(out), outer, dim, inner));
  }
  AZ_LAUNCH_CHECK("softmax");
  return AZ_OK;
}
