// Block-wide sum and max for one-block-per-row kernels (blockDim.x a multiple of 32, at most 1024).
#pragma once
#include <cuda_runtime.h>

__device__ __forceinline__ float az_warp_sum(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__device__ __forceinline__ float az_warp_max(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// Every thread gets the total. `scratch` holds 32 floats; the call ends with a barrier so it can
// be reused right away.
__device__ __forceinline__ float az_block_sum(float v, float* scratch) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = az_warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float total = lane < warps ? scratch[lane] : 0.0f;
  total = az_warp_sum(total);
  __syncthreads();
  return total;
}

__device__ __forceinline__ float az_block_max(float v, float* scratch) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = az_warp_max(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float total = lane < warps ? scratch[lane] : -INFINITY;
  total = az_warp_max(total);
  __syncthreads();
  return total;
}

// Threads per row-block: enough warps for the row, at most 256.
inline int az_row_threads(long long cols) {
  int threads = 32;
  while (threads < 256 && threads < cols) threads <<= 1;
  return threads;
}
