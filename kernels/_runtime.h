// Shared plumbing of the runtime kernels: the C ABI's status codes, the per-thread error message,
// CUDA error checks that name the op, the stream every op runs on, dtype codes and f32 load/store.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#define AZ_API extern "C" __attribute__((visibility("default")))

// Status codes returned by every exported function (0 = ok).
enum AzStatus : int { AZ_OK = 0, AZ_INVALID = 1, AZ_CUDA = 2, AZ_OOM = 3, AZ_CUBLAS = 4, AZ_RANGE = 5 };

// Element types, as numbered by core/backends/cuda/_symbols.ts.
enum AzDType : int { AZ_F32 = 0, AZ_F16 = 1, AZ_BF16 = 2, AZ_I32 = 3 };

// Records "op: message" as this thread's last error and returns `status`.
int az_fail(int status, const char* op, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

// The stream of the runtime's context; created by attnzoo_init.
cudaStream_t az_stream();

// Device allocations from the caching allocator (memory.cu), for ops that need scratch space.
int az_alloc(const char* op, size_t bytes, void** out);
void az_release(void* ptr);

// Checks a CUDA runtime call; on failure records the op and the CUDA message.
#define AZ_CUDA_CHECK(op, call)                                                   \
  do {                                                                            \
    cudaError_t az_err_ = (call);                                                 \
    if (az_err_ != cudaSuccess) {                                                 \
      return az_fail(AZ_CUDA, op, "%s (%s)", cudaGetErrorString(az_err_), #call); \
    }                                                                             \
  } while (0)

// Checks the launch that just happened (bad configuration, missing kernel image).
#define AZ_LAUNCH_CHECK(op) AZ_CUDA_CHECK(op, cudaGetLastError())

// Rejects a dtype the op does not take.
#define AZ_REQUIRE_FLOAT(op, dtype)                                                                      \
  do {                                                                                                   \
    if ((dtype) != AZ_F32 && (dtype) != AZ_F16 && (dtype) != AZ_BF16) {                                  \
      return az_fail(AZ_INVALID, op, "unsupported dtype code %d (want f32, f16 or bf16)", (int)(dtype)); \
    }                                                                                                    \
  } while (0)

template <typename T>
__device__ __forceinline__ float az_load(const T* p, int64_t i);
template <>
__device__ __forceinline__ float az_load<float>(const float* p, int64_t i) {
  return p[i];
}
template <>
__device__ __forceinline__ float az_load<__half>(const __half* p, int64_t i) {
  return __half2float(p[i]);
}
template <>
__device__ __forceinline__ float az_load<__nv_bfloat16>(const __nv_bfloat16* p, int64_t i) {
  return __bfloat162float(p[i]);
}

template <typename T>
__device__ __forceinline__ void az_store(T* p, int64_t i, float v);
template <>
__device__ __forceinline__ void az_store<float>(float* p, int64_t i, float v) {
  p[i] = v;
}
template <>
__device__ __forceinline__ void az_store<__half>(__half* p, int64_t i, float v) {
  p[i] = __float2half_rn(v);
}
template <>
__device__ __forceinline__ void az_store<__nv_bfloat16>(__nv_bfloat16* p, int64_t i, float v) {
  p[i] = __float2bfloat16_rn(v);
}

// Runs the statements with `scalar_t` bound to the storage type of a (validated) float dtype code.
#define AZ_DISPATCH_FLOAT(dtype, ...) \
  switch (dtype) {                    \
    case AZ_F32: {                    \
      using scalar_t = float;         \
      __VA_ARGS__;                    \
      break;                          \
    }                                 \
    case AZ_F16: {                    \
      using scalar_t = __half;        \
      __VA_ARGS__;                    \
      break;                          \
    }                                 \
    default: {                        \
      using scalar_t = __nv_bfloat16; \
      __VA_ARGS__;                    \
      break;                          \
    }                                 \
  }

// Blocks of `threads` covering `n` items, capped so grid-stride loops do the rest.
inline unsigned az_blocks(int64_t n, int threads) {
  int64_t blocks = (n + threads - 1) / threads;
  if (blocks < 1) blocks = 1;
  return (unsigned)(blocks > 65535LL * 32 ? 65535LL * 32 : blocks);
}

// Device pointer from the u64 handle that crosses the FFI.
template <typename T>
inline T* az_ptr(uint64_t handle) {
  return reinterpret_cast<T*>(handle);
}

// Bytes per element of a dtype code (0 for an unknown code).
inline int az_dtype_size(int dtype) {
  switch (dtype) {
    case AZ_F32:
    case AZ_I32:
      return 4;
    case AZ_F16:
    case AZ_BF16:
      return 2;
    default:
      return 0;
  }
}
