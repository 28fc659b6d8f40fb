// The forward implementations behind the exported entry points (forward_api.cu).
#pragma once
#include <cuda_runtime.h>
#include <stdint.h>

#include "_score.cuh"

namespace flash_sigmoid {

// The shared-tile width of a head dim: the swizzled tiles (kernels/_mma_tile.cuh) need a multiple
// of 64, so d 32 and 96 run in 64- and 128-wide tiles whose extra columns are zeros.
__host__ __device__ constexpr int tile_dim(int head_dim) { return (head_dim + 63) / 64 * 64; }

// mma.sync (sm_80 and later): forward.cu.
int forward_mma(const Problem& p, int dtype, int head_dim, bool causal, uint64_t q, uint64_t k, uint64_t v, uint64_t o,
                cudaStream_t stream);

// wgmma (compute capability 9.x only): forward_sm90.cu.
int forward_sm90(const Problem& p, int dtype, int head_dim, bool causal, uint64_t q, uint64_t k, uint64_t v, uint64_t o,
                 cudaStream_t stream);

// Few queries against many keys, keys split over CTAs (compute capability 8.0+): decode.cu.
int forward_decode(const Problem& p, int dtype, int head_dim, bool causal, uint64_t q, uint64_t k, uint64_t v,
                   uint64_t o, cudaStream_t stream);

// Whether the automatic choice of the strided entry point takes forward_decode: every query row of a
// GQA group (heads / kv_heads × nq) fits one 16-row mma block.
inline bool prefers_decode(const Problem& p) { return (p.heads / p.kv_heads) * p.nq <= 16; }

}  // namespace flash_sigmoid
