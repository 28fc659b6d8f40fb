// Embedding lookup: out[i, :] = table[ids[i], :]. An id outside [0, V) is reported after the
// launch (the kernel raises a device flag and writes zeros) so the caller gets an error, not garbage.
#include "_runtime.h"

namespace {

template <typename T>
__global__ void embedding_kernel(const int32_t* ids, const T* table, T* out, int64_t n, int64_t vocab, int64_t dim,
                                 int* bad) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n * dim; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t row = i / dim, col = i % dim;
    const int32_t id = ids[row];
    if (id < 0 || id >= vocab) {
      atomicExch(bad, 1);
      out[i] = T{};
    } else {
      out[i] = table[(int64_t)id * dim + col];
    }
  }
}

}  // namespace

/** Gathers `n` rows of `dim` from `table` [vocab, dim] by i32 `ids`; fails on an out-of-range id. */
AZ_API int attnzoo_embedding(int dtype, uint64_t ids, uint64_t table, uint64_t out, int64_t n, int64_t vocab,
                             int64_t dim) {
  AZ_REQUIRE_FLOAT("embedding", dtype);
  if (n * dim == 0) return AZ_OK;
  int* bad = nullptr;
  if (int status = az_alloc("embedding", sizeof(int), reinterpret_cast<void**>(&bad))) return status;
  int flag = 0;
  cudaError_t err = cudaMemsetAsync(bad, 0, sizeof(int), az_stream());
  if (err == cudaSuccess) {
    AZ_DISPATCH_FLOAT(dtype,
                      embedding_kernel<scalar_t><<<az_blocks(n * dim, 256), 256, 0, az_stream()>>>(
                          az_ptr<int32_t>(ids), az_ptr<scalar_t>(table), az_ptr<scalar_t>(out), n, vocab, dim, bad));
    err = cudaGetLastError();
  }
  if (err == cudaSuccess) err = cudaMemcpyAsync(&flag, bad, sizeof(int), cudaMemcpyDeviceToHost, az_stream());
  if (err == cudaSuccess) err = cudaStreamSynchronize(az_stream());
  az_release(bad);
  if (err != cudaSuccess) return az_fail(AZ_CUDA, "embedding", "%s", cudaGetErrorString(err));
  if (flag != 0) return az_fail(AZ_RANGE, "embedding", "an id is outside [0, %lld)", (long long)vocab);
  return AZ_OK;
}
