// Numerically stable softmax along one dim of a tensor viewed as [outer, dim, inner]. Rows along
// the last dim (inner = 1) of up to 1024 entries are held in one warp's registers (read once,
// written once, in 16-byte packs when the row allows); longer rows get one block each; otherwise
// one thread walks each strided row, which keeps neighbouring threads on neighbouring addresses.
#include "_pack.h"
#include "_reduce.h"
#include "_runtime.h"

namespace {

constexpr int kWarpRowsPerBlock = 4;

// One warp per row of `cols` (V divides cols): lane l holds packs l, l + 32, ... (ITERS of them).
template <typename T, int V, int ITERS>
__global__ void softmax_warp_rows(const T* x, T* out, int64_t rows, int cols) {
  const int64_t row = blockIdx.x * (int64_t)kWarpRowsPerBlock + (threadIdx.x >> 5);
  if (row >= rows) return;
  const int lane = threadIdx.x & 31;
  const T* src = x + row * cols;
  float v[ITERS][V];
  float m = -INFINITY;
#pragma unroll
  for (int it = 0; it < ITERS; it++) {
    const int c = (it * 32 + lane) * V;
    if (c < cols) {
      az_load_pack<V>(src, c, v[it]);
#pragma unroll
      for (int k = 0; k < V; k++) m = fmaxf(m, v[it][k]);
    }
  }
  m = az_warp_max(m);
  float s = 0.0f;
#pragma unroll
  for (int it = 0; it < ITERS; it++) {
    if ((it * 32 + lane) * V < cols) {
#pragma unroll
      for (int k = 0; k < V; k++) {
        v[it][k] = expf(v[it][k] - m);
        s += v[it][k];
      }
    }
  }
  const float inv = 1.0f / az_warp_sum(s);
  T* dst = out + row * cols;
#pragma unroll
  for (int it = 0; it < ITERS; it++) {
    const int c = (it * 32 + lane) * V;
    if (c < cols) {
#pragma unroll
      for (int k = 0; k < V; k++) v[it][k] *= inv;
      az_store_pack<V>(dst, c, v[it]);
    }
  }
}

// Launches the warp kernel with the fewest ITERS (a power of two, at most MAX) covering the row.
template <typename T, int V, int ITERS, int MAX>
void launch_warp_rows(const T* x, T* out, int64_t rows, int cols) {
  if constexpr (ITERS < MAX) {
    if (cols > 32 * V * ITERS) return launch_warp_rows<T, V, ITERS * 2, MAX>(x, out, rows, cols);
  }
  const unsigned blocks = (unsigned)((rows + kWarpRowsPerBlock - 1) / kWarpRowsPerBlock);
  softmax_warp_rows<T, V, ITERS><<<blocks, 32 * kWarpRowsPerBlock, 0, az_stream()>>>(x, out, rows, cols);
}

// Longest row the warp kernel holds: 32 values per lane.
constexpr int64_t kWarpMaxCols = 32 * 32;

// Packs need V | cols and aligned rows; other rows go one element per lane and step.
template <typename T>
void launch_softmax_warp(const T* x, T* out, int64_t rows, int64_t cols) {
  constexpr int V = az_vec16<T>();
  if (cols % V == 0 && az_aligned(16, x, out)) {
    launch_warp_rows<T, V, 1, kWarpMaxCols / 32 / V>(x, out, rows, (int)cols);
  } else {
    launch_warp_rows<T, 1, 1, kWarpMaxCols / 32>(x, out, rows, (int)cols);
  }
}

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
  if (inner == 1 && dim <= kWarpMaxCols && outer <= 2147483647LL) {
    AZ_DISPATCH_FLOAT(dtype, launch_softmax_warp(az_ptr<scalar_t>(x), az_ptr<scalar_t>(out), outer, dim));
  } else if (inner == 1 && outer <= 2147483647LL) {
    AZ_DISPATCH_FLOAT(dtype, softmax_rows<scalar_t><<<(unsigned)outer, az_row_threads(dim), 0, az_stream()>>>(
                                 az_ptr<scalar_t>(x), az_ptr<scalar_t>(out), dim));
  } else {
    AZ_DISPATCH_FLOAT(dtype, softmax_strided<scalar_t><<<az_blocks(outer * inner, 256), 256, 0, az_stream()>>>(
                                 az_ptr<scalar_t>(x), az_ptr<scalar_t>(out), outer, dim, inner));
  }
  AZ_LAUNCH_CHECK("softmax");
  return AZ_OK;
}
