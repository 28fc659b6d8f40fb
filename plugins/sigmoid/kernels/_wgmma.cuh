// Warpgroup tensor-core building blocks (wgmma, sm_90a) for the Hopper FlashSigmoid kernels. Shared
// tiles sit in the 128-byte-swizzle layout wgmma reads: 64-element column panels of ROWS rows each,
// [cols/64][ROWS][64], 16-byte chunk c of row r at c ^ (r % 8) within its 128-byte row.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include "_mma_tile.cuh"

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define SIG_WGMMA 1
#endif

namespace flash_sigmoid {

// Offset (elements) of 16-byte chunk `chunk` of row `row` in a ROWS-row tile of the wgmma layout.
template <int ROWS>
struct WgmmaLayout {
  __device__ __forceinline__ int operator()(int row, int chunk) const {
    return ((chunk >> 3) * ROWS + row) * 64 + (((chunk & 7) ^ (row & 7)) << 3);
  }
};

// load_tile_async into the wgmma layout: rows past valid_rows and columns past cols become zeros.
template <int ROWS, int D, int THREADS, typename T>
__device__ __forceinline__ void load_tile_wgmma(T* tile, const T* src, int64_t row_stride, int row0, int valid_rows,
                                                int cols = D) {
  attnzoo::mma::load_tile_async<ROWS, D, THREADS>(tile, src, row_stride, row0, valid_rows, WgmmaLayout<ROWS>{}, cols);
}

// Shared-memory matrix descriptor, 128-byte swizzle; byte offsets as wgmma defines them. For a
// K-major operand (K contiguous) `leading_bytes` is unused by the swizzled layout (16 by convention);
// for an MN-major one it is the distance between 64-element panels along M or N. `stride_bytes` is
// the distance between 8-row groups: 1024 in this layout.
__device__ __forceinline__ uint64_t matrix_descriptor(const void* p, uint32_t leading_bytes, uint32_t stride_bytes) {
  const uint64_t address = attnzoo::mma::shared_address(p);
  return ((address & 0x3FFFF) >> 4) | (static_cast<uint64_t>((leading_bytes >> 4) & 0x3FFF) << 16) |
         (static_cast<uint64_t>((stride_bytes >> 4) & 0x3FFF) << 32) | (1ull << 62);
}

// A K-major tile's descriptor for the k16 step kk of rows [row0, row0 + 64) (ROWS rows in the tile).
template <int ROWS, typename T>
__device__ __forceinline__ uint64_t k_major(const T* tile, int row0, int kk) {
  return matrix_descriptor(tile + (kk / 4) * ROWS * 64 + row0 * 64 + (kk % 4) * 16, 16, 1024);
}

// An MN-major tile's descriptor for the k16 step kk (rows kk·16 … +16 are K) starting at 64-element
// panel `panel` of M or N (ROWS rows in the tile).
template <int ROWS, typename T>
__device__ __forceinline__ uint64_t mn_major(const T* tile, int panel, int kk) {
  return matrix_descriptor(tile + panel * ROWS * 64 + kk * 16 * 64, ROWS * 64 * 2, 1024);
}

#ifdef SIG_WGMMA
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
// Waits until at most PENDING of this warpgroup's committed groups are still running.
template <int PENDING>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(PENDING) : "memory");
}
// Shared memory written by ordinary stores or cp.async (generic proxy) becomes visible to wgmma (async proxy).
__device__ __forceinline__ void fence_async_shared() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

// Keeps the compiler from moving accumulator accesses across wgmma issue and wait.
template <int N>
__device__ __forceinline__ void pin(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; i++) asm volatile("" : "+f"(d[i])::"memory");
}

template <int N>
__device__ __forceinline__ void pin(uint32_t (&r)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; i++) asm volatile("" : "+r"(r[i][0]), "+r"(r[i][1]), "+r"(r[i][2]), "+r"(r[i][3])::"memory");
}

// d (64 × N) = A (64 × 16) · B (16 × N) (+ d when `accumulate`), both from shared memory; TRANS_A /
// TRANS_B mark an MN-major operand (16-bit types only), otherwise K-major. Starting a sum with
// accumulate = false instead of zeroed registers keeps ptxas from re-zeroing them inside the
// wgmma pipeline (which makes it serialise the wgmma).
template <int N, typename T, bool TRANS_A = false, bool TRANS_B = false>
__device__ __forceinline__ void wgmma_ss(float (&d)[N / 2], uint64_t a, uint64_t b, bool accumulate = true);
// d (64 × N) = A (64 × 16, registers, the accumulator layout packed to 16 bits) · B (16 × N, shared,
// N-major) (+ d when `accumulate`).
template <int N, typename T>
__device__ __forceinline__ void wgmma_rs(float (&d)[N / 2], const uint32_t (&a)[4], uint64_t b,
                                         bool accumulate = true);

// Operand lists: "+f" constraints of 8/32/64 accumulators and their register lists in the text.
#define SIG_ACC8(d, i)                                                                                           \
  "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), "+f"(d[i + 6]), \
      "+f"(d[i + 7])
#define SIG_ACC32(d) SIG_ACC8(d, 0), SIG_ACC8(d, 8), SIG_ACC8(d, 16), SIG_ACC8(d, 24)
#define SIG_ACC64(d) SIG_ACC32(d), SIG_ACC8(d, 32), SIG_ACC8(d, 40), SIG_ACC8(d, 48), SIG_ACC8(d, 56)
#define SIG_REGS32                                                                                                \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, " \
  "%24, %25, %26, %27, %28, %29, %30, %31}"
#define SIG_REGS64                                                                                                \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, " \
  "%24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, "  \
  "%46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"

// One specialisation of wgmma_ss: N, element type, PTX type, accumulator count R, the transpose
// flags (0/1) and the operand numbers of a, b and the scale-d flag after the R accumulators.
#define SIG_DEFINE_WGMMA_SS(N, T, PTX, R, TA, TB, A, B, SCALE)                                                        \
  template <>                                                                                                          \
  __device__ __forceinline__ void wgmma_ss<N, T, TA != 0, TB != 0>(float(&d)[R], uint64_t a, uint64_t b, bool acc) {  \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %" #SCALE ", 0;\nwgmma.mma_async.sync.aligned.m64n" #N "k16.f32." \
                 PTX "." PTX " " SIG_REGS##R ", %" #A ", %" #B ", p, 1, 1, " #TA ", " #TB ";\n}\n"                  \
                 : SIG_ACC##R(d)                                                                                       \
                 : "l"(a), "l"(b), "r"(static_cast<int>(acc)));                                                       \
  }

#define SIG_DEFINE_WGMMA_RS(N, T, PTX, R, A0, A1, A2, A3, B, SCALE)                                                  \
  template <>                                                                                                          \
  __device__ __forceinline__ void wgmma_rs<N, T>(float(&d)[R], const uint32_t(&a)[4], uint64_t b, bool acc) {         \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %" #SCALE ", 0;\nwgmma.mma_async.sync.aligned.m64n" #N "k16.f32." \
                 PTX "." PTX " " SIG_REGS##R ", {%" #A0 ", %" #A1 ", %" #A2 ", %" #A3 "}, %" #B ", p, 1, 1, 1;\n}\n" \
                 : SIG_ACC##R(d)                                                                                       \
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(static_cast<int>(acc)));                \
  }

#define SIG_DEFINE_WGMMA_TYPE(T, PTX)                                        \
  SIG_DEFINE_WGMMA_SS(64, T, PTX, 32, 0, 0, 32, 33, 34)             \
  SIG_DEFINE_WGMMA_SS(64, T, PTX, 32, 1, 1, 32, 33, 34)               \
  SIG_DEFINE_WGMMA_SS(128, T, PTX, 64, 0, 0, 64, 65, 66)            \
  SIG_DEFINE_WGMMA_RS(64, T, PTX, 32, 32, 33, 34, 35, 36, 37)               \
  SIG_DEFINE_WGMMA_RS(128, T, PTX, 64, 64, 65, 66, 67, 68, 69)

SIG_DEFINE_WGMMA_TYPE(__nv_bfloat16, "bf16")
SIG_DEFINE_WGMMA_TYPE(__half, "f16")

#undef SIG_DEFINE_WGMMA_TYPE
#undef SIG_DEFINE_WGMMA_RS
#undef SIG_DEFINE_WGMMA_SS
#undef SIG_REGS64
#undef SIG_REGS32
#undef SIG_ACC64
#undef SIG_ACC32
#undef SIG_ACC8
#endif

}  // namespace flash_sigmoid
