// Data movement: permute into a contiguous copy, and strided 2-D copies (concat and narrow are
// rows of bytes copied between pitches, which cudaMemcpy2DAsync does at copy-engine speed).
#include "_runtime.h"

namespace {

constexpr int kMaxDims = 8;

struct Permutation {
  int ndim;
  int64_t out_shape[kMaxDims];
  int64_t in_stride[kMaxDims];  // stride in the input of each output dim
};

template <typename E>
__global__ void permute_kernel(const E* x, E* out, int64_t n, Permutation p) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t rest = i, src = 0;
    for (int d = p.ndim - 1; d >= 0; d--) {
      src += (rest % p.out_shape[d]) * p.in_stride[d];
      rest /= p.out_shape[d];
    }
    out[i] = x[src];
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
  Permutation p{};
  p.ndim = ndim;
  for (int d = 0; d < ndim; d++) {
    if (dims[d] < 0 || dims[d] >= ndim)
      return az_fail(AZ_INVALID, "permute", "dim %lld out of range", (long long)dims[d]);
    p.out_shape[d] = in_shape[dims[d]];
    p.in_stride[d] = in_stride[dims[d]];
  }
  if (n == 0) return AZ_OK;
  if (elem_size == 2) {
    permute_kernel<uint16_t>
        <<<az_blocks(n, 256), 256, 0, az_stream()>>>(az_ptr<uint16_t>(x), az_ptr<uint16_t>(out), n, p);
  } else {
    permute_kernel<uint32_t>
        <<<az_blocks(n, 256), 256, 0, az_stream()>>>(az_ptr<uint32_t>(x), az_ptr<uint32_t>(out), n, p);
  }
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
  if (rows == 1) {
    AZ_CUDA_CHECK("copy_2d",
                  cudaMemcpyAsync(az_ptr<void>(dst), az_ptr<void>(src), width, cudaMemcpyDeviceToDevice, az_stream()));
    return AZ_OK;
  }
  AZ_CUDA_CHECK("copy_2d", cudaMemcpy2DAsync(az_ptr<void>(dst), dst_pitch, az_ptr<void>(src), src_pitch, width, rows,
                                             cudaMemcpyDeviceToDevice, az_stream()));
  return AZ_OK;
}
