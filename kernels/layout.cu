// Data movement: permute into a contiguous copy, and strided 2-D copies (concat and narrow are
// rows of bytes copied between pitches). Both move the widest unit (up to 16 bytes) that the
// sizes and addresses allow: a permute that keeps the last dim copies whole runs of it, and its
// dims are collapsed first (size-1 dims dropped, dims that stay adjacent merged) so the index
// math per unit is short and, below 2³¹ units, 32-bit. A permute that swaps the last two
// (collapsed) dims is a batched transpose through shared-memory tiles, so that both its reads
// and its writes are coalesced.
#include "_runtime.h"

namespace {

constexpr int kMaxDims = 8;
constexpr int kThreads = 256;

template <typename I>
struct Permutation {
  int ndim;
  I out_shape[kMaxDims];
  I in_stride[kMaxDims];  // stride in the input of each output dim
};

template <typename E, typename I>
__global__ void permute_kernel(const E* x, E* out, I n, Permutation<I> p) {
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    I rest = i, src = 0;
    for (int d = p.ndim - 1; d >= 0; d--) {
      src += (rest % p.out_shape[d]) * p.in_stride[d];
      rest /= p.out_shape[d];
    }
    out[i] = x[src];
  }
}

template <typename E>
void launch_permute(const void* x, void* out, int ndim, const int64_t* shape, const int64_t* stride, int64_t n) {
  const unsigned blocks = az_blocks(n, kThreads);
  if (n <= (int64_t)UINT32_MAX / 2) {
    Permutation<uint32_t> p{};
    p.ndim = ndim;
    for (int d = 0; d < ndim; d++) {
      p.out_shape[d] = (uint32_t)shape[d];
      p.in_stride[d] = (uint32_t)stride[d];
    }
    permute_kernel<E, uint32_t><<<blocks, kThreads, 0, az_stream()>>>(static_cast<const E*>(x), static_cast<E*>(out),
                                                                      (uint32_t)n, p);
  } else {
    Permutation<int64_t> p{};
    p.ndim = ndim;
    for (int d = 0; d < ndim; d++) {
      p.out_shape[d] = shape[d];
      p.in_stride[d] = stride[d];
    }
    permute_kernel<E, int64_t><<<blocks, kThreads, 0, az_stream()>>>(static_cast<const E*>(x), static_cast<E*>(out), n,
                                                                     p);
  }
}

// Launches the copy for a unit of `unit` bytes (16, 8, 4, 2 or 1).
void launch_permute_units(int unit, const void* x, void* out, int ndim, const int64_t* shape, const int64_t* stride,
                          int64_t n) {
  switch (unit) {
    case 16:
      return launch_permute<uint4>(x, out, ndim, shape, stride, n);
    case 8:
      return launch_permute<uint2>(x, out, ndim, shape, stride, n);
    case 4:
      return launch_permute<uint32_t>(x, out, ndim, shape, stride, n);
    case 2:
      return launch_permute<uint16_t>(x, out, ndim, shape, stride, n);
    default:
      return launch_permute<uint8_t>(x, out, ndim, shape, stride, n);
  }
}

constexpr int kTile = 32;
constexpr int kTileRows = 8;

// out[b] = x[b]ᵀ for x[b] of [rows, cols], one 32×32 tile per block (blockIdx.z = b).
template <typename E>
__global__ void transpose_tiles(const E* x, E* out, int64_t rows, int64_t cols) {
  __shared__ E tile[kTile][kTile + 1];  // +1: a column of the tile spreads over the banks
  const int64_t offset = blockIdx.z * rows * cols;
  const int64_t r0 = blockIdx.y * (int64_t)kTile, c0 = blockIdx.x * (int64_t)kTile;
  for (int i = threadIdx.y; i < kTile; i += kTileRows) {
    const int64_t r = r0 + i, c = c0 + threadIdx.x;
    if (r < rows && c < cols) tile[i][threadIdx.x] = x[offset + r * cols + c];
  }
  __syncthreads();
  for (int i = threadIdx.y; i < kTile; i += kTileRows) {
    const int64_t c = c0 + i, r = r0 + threadIdx.x;
    if (c < cols && r < rows) out[offset + c * rows + r] = tile[threadIdx.x][i];
  }
}

// Launches the tiled transpose when the collapsed permutation is [batch,] rows × cols → cols ×
// rows and the grid can hold it; false otherwise.
bool try_transpose(int elem_size, const void* x, void* out, int nd, const int64_t* shape, const int64_t* stride) {
  int64_t batch, rows, cols;
  if (nd == 2 && stride[0] == 1 && stride[1] == shape[0]) {
    batch = 1;
  } else if (nd == 3 && stride[1] == 1 && stride[2] == shape[1] && stride[0] == shape[1] * shape[2]) {
    batch = shape[0];
  } else {
    return false;
  }
  cols = shape[nd - 2];
  rows = shape[nd - 1];
  const int64_t tiles_x = (cols + kTile - 1) / kTile, tiles_y = (rows + kTile - 1) / kTile;
  if (tiles_x > 2147483647LL || tiles_y > 65535 || batch > 65535) return false;
  const dim3 grid((unsigned)tiles_x, (unsigned)tiles_y, (unsigned)batch), block(kTile, kTileRows);
  if (elem_size == 2) {
    transpose_tiles<uint16_t><<<grid, block, 0, az_stream()>>>(static_cast<const uint16_t*>(x),
                                                               static_cast<uint16_t*>(out), rows, cols);
  } else {
    transpose_tiles<uint32_t><<<grid, block, 0, az_stream()>>>(static_cast<const uint32_t*>(x),
                                                               static_cast<uint32_t*>(out), rows, cols);
  }
  return true;
}

// The widest unit (≤ 16 bytes) dividing `bytes` and aligning every address.
int widest_unit(uint64_t bytes, uint64_t a, uint64_t b, uint64_t c = 0, uint64_t d = 0) {
  const uint64_t all = bytes | a | b | c | d;
  int unit = 16;
  while (unit > 1 && (all & (uint64_t)(unit - 1)) != 0) unit >>= 1;
  return unit;
}

// Row r of `rows`, unit c of `units` per row: dst[r·dst_pitch + c] = src[r·src_pitch + c] (in units).
template <typename E, typename I>
__global__ void copy_2d_kernel(E* dst, I dst_pitch, const E* src, I src_pitch, I units, I n) {
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    const I r = i / units, c = i - r * units;
    dst[r * dst_pitch + c] = src[r * src_pitch + c];
  }
}

template <typename E>
void launch_copy_2d(uint64_t dst, uint64_t dst_pitch, uint64_t src, uint64_t src_pitch, uint64_t width,
                    uint64_t rows) {
  const uint64_t units = width / sizeof(E), n = units * rows;
  const unsigned blocks = az_blocks((int64_t)n, kThreads);
  const uint64_t dp = dst_pitch / sizeof(E), sp = src_pitch / sizeof(E);
  if ((rows - 1) * (dp > sp ? dp : sp) + units <= UINT32_MAX / 2) {
    copy_2d_kernel<E, uint32_t><<<blocks, kThreads, 0, az_stream()>>>(
        az_ptr<E>(dst), (uint32_t)dp, az_ptr<const E>(src), (uint32_t)sp, (uint32_t)units, (uint32_t)n);
  } else {
    copy_2d_kernel<E, int64_t><<<blocks, kThreads, 0, az_stream()>>>(az_ptr<E>(dst), (int64_t)dp, az_ptr<const E>(src),
                                                                     (int64_t)sp, (int64_t)units, (int64_t)n);
  }
}

}  // namespace

/** out = x.permute(dims) for elements of `elem_size` bytes (2 or 4); `in_shape` has `ndim` dims. */
AZ_API int attnzoo_permute(int elem_size, int ndim, const int64_t* in_shape, const int64_t* dims, uint64_t x,
                           uint64_t out) {
  if (elem_size != 2 && elem_size != 4)
    return az_fail(AZ_INVALID, "permute", "element size %d (want 2 or 4)", elem_size);
  if (ndim < 0 || ndim > kMaxDims) return az_fail(AZ_INVALID, "permute", "%d dims (at most %d)", ndim, kMaxDims);
  int64_t in_stride[kMaxDims];
  int64_t n = 1;
  for (int d = ndim - 1; d >= 0; d--) {
    in_stride[d] = n;
    n *= in_shape[d];
  }
  // output dims in order, size-1 dims dropped, a dim merged into the previous one when the two
  // are also adjacent (outer, inner) in the input
  int64_t shape[kMaxDims], stride[kMaxDims];
  int nd = 0;
  for (int d = 0; d < ndim; d++) {
    if (dims[d] < 0 || dims[d] >= ndim)
      return az_fail(AZ_INVALID, "permute", "dim %lld out of range", (long long)dims[d]);
    const int64_t size = in_shape[dims[d]], s = in_stride[dims[d]];
    if (size == 1) continue;
    if (nd > 0 && stride[nd - 1] == s * size) {
      shape[nd - 1] *= size;
      stride[nd - 1] = s;
    } else {
      shape[nd] = size;
      stride[nd] = s;
      nd++;
    }
  }
  if (n == 0) return AZ_OK;
  if (nd <= 1) {  // the order of the elements does not change
    AZ_CUDA_CHECK("permute", cudaMemcpyAsync(az_ptr<void>(out), az_ptr<void>(x), n * elem_size,
                                             cudaMemcpyDeviceToDevice, az_stream()));
    return AZ_OK;
  }
  if (try_transpose(elem_size, az_ptr<const void>(x), az_ptr<void>(out), nd, shape, stride)) {
    AZ_LAUNCH_CHECK("permute");
    return AZ_OK;
  }
  int unit = elem_size;
  if (stride[nd - 1] == 1) {
    // the last dim stays innermost: move runs of it in wider units (every other input stride is a
    // multiple of its length, so it divides them too)
    unit = widest_unit((uint64_t)(shape[nd - 1] * elem_size), x, out);
    if (unit < elem_size) unit = elem_size;
    const int64_t per = unit / elem_size;
    shape[nd - 1] /= per;
    for (int d = 0; d < nd - 1; d++) stride[d] /= per;
    n /= per;
  }
  launch_permute_units(unit, az_ptr<void>(x), az_ptr<void>(out), nd, shape, stride, n);
  AZ_LAUNCH_CHECK("permute");
  return AZ_OK;
}

/** Copies `rows` rows of `width` bytes from src (row pitch `src_pitch`) to dst (`dst_pitch`). */
AZ_API int attnzoo_copy_2d(uint64_t dst, uint64_t dst_pitch, uint64_t src, uint64_t src_pitch, uint64_t width,
                           uint64_t rows) {
  if (width == 0 || rows == 0) return AZ_OK;
  if (width > dst_pitch || width > src_pitch) {
    return az_fail(AZ_INVALID, "copy_2d", "row of %llu bytes exceeds a pitch (%llu, %llu)", (unsigned long long)width,
                   (unsigned long long)dst_pitch, (unsigned long long)src_pitch);
  }
  if (rows == 1 || (width == dst_pitch && width == src_pitch)) {
    AZ_CUDA_CHECK("copy_2d", cudaMemcpyAsync(az_ptr<void>(dst), az_ptr<void>(src), width * rows,
                                             cudaMemcpyDeviceToDevice, az_stream()));
    return AZ_OK;
  }
  switch (widest_unit(width, dst, src, dst_pitch, src_pitch)) {
    case 16:
      launch_copy_2d<uint4>(dst, dst_pitch, src, src_pitch, width, rows);
      break;
    case 8:
      launch_copy_2d<uint2>(dst, dst_pitch, src, src_pitch, width, rows);
      break;
    case 4:
      launch_copy_2d<uint32_t>(dst, dst_pitch, src, src_pitch, width, rows);
      break;
    case 2:
      launch_copy_2d<uint16_t>(dst, dst_pitch, src, src_pitch, width, rows);
      break;
    default:
      launch_copy_2d<uint8_t>(dst, dst_pitch, src, src_pitch, width, rows);
      break;
  }
  AZ_LAUNCH_CHECK("copy_2d");
  return AZ_OK;
}
