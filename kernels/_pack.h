// Vector packs for bandwidth-bound kernels: V elements moved as one aligned load/store (16 bytes
// for the widest packs), with f32 conversions of every storage type, so a thread reads and writes
// whole 16-byte words while the math stays in f32.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

template <typename T, int V>
struct alignas(sizeof(T) * V) AzPack {
  T v[V];
};

// Elements of T per 16-byte pack.
template <typename T>
constexpr int az_vec16() {
  return 16 / (int)sizeof(T);
}

__device__ __forceinline__ float az_to_f32(float v) { return v; }
__device__ __forceinline__ float az_to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float az_to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float az_to_f32(int32_t v) { return (float)v; }

template <typename T>
__device__ __forceinline__ T az_from_f32(float v);
template <>
__device__ __forceinline__ float az_from_f32<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __half az_from_f32<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 az_from_f32<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}
template <>
__device__ __forceinline__ int32_t az_from_f32<int32_t>(float v) {
  return (int32_t)v;  // truncation toward zero, PyTorch's float → int rule
}

// Loads V elements starting at element `i` (which must keep the pack aligned) as f32.
template <int V, typename T>
__device__ __forceinline__ void az_load_pack(const T* p, int64_t i, float (&out)[V]) {
  const AzPack<T, V> pack = *reinterpret_cast<const AzPack<T, V>*>(p + i);
#pragma unroll
  for (int k = 0; k < V; k++) out[k] = az_to_f32(pack.v[k]);
}

// Rounds V f32 values to T and stores them as one pack at element `i`.
template <int V, typename T>
__device__ __forceinline__ void az_store_pack(T* p, int64_t i, const float (&in)[V]) {
  AzPack<T, V> pack;
#pragma unroll
  for (int k = 0; k < V; k++) pack.v[k] = az_from_f32<T>(in[k]);
  *reinterpret_cast<AzPack<T, V>*>(p + i) = pack;
}

// Whether every non-null pointer is aligned to `bytes`.
inline bool az_aligned(int bytes, const void* a, const void* b = nullptr, const void* c = nullptr,
                       const void* d = nullptr) {
  const uintptr_t mask = (uintptr_t)bytes - 1;
  return (((uintptr_t)a | (uintptr_t)b | (uintptr_t)c | (uintptr_t)d) & mask) == 0;
}
