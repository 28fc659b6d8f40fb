// Warp-level tensor-core building blocks for the plugins' fused attention kernels (sm_80 and later):
// cp.async tile loads into XOR-swizzled shared memory, ldmatrix fragment loads and
// mma.sync m16n8k16 (16-bit inputs, f32 accumulators).
//
// Every shared tile is [rows][D] 16-bit elements. A row is D/8 chunks of 16 bytes; chunk c of
// row r is stored at chunk c ^ (r & 7), so the eight rows one ldmatrix phase reads hit eight
// different bank groups. Needs D to be a multiple of 64.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

namespace attnzoo::mma {

template <int D>
__device__ __forceinline__ int swizzled(int row, int chunk) {
  static_assert(D % 64 == 0, "the swizzle needs at least 8 chunks per row");
  return row * D + ((chunk ^ (row & 7)) << 3);
}

__device__ __forceinline__ uint32_t shared_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// Copies 16 bytes global → shared; src_bytes 0 writes zeros (rows past the end).
__device__ __forceinline__ void cp_async_16(void* dst, const void* src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(dst)), "l"(src), "r"(src_bytes)
               : "memory");
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::: "memory"); }

// The default shared layout: row-major rows of D elements, 16-byte chunks XOR-swizzled.
template <int D>
struct SwizzledRows {
  __device__ __forceinline__ int operator()(int row, int chunk) const { return swizzled<D>(row, chunk); }
};

// Starts loading rows [row0, row0 + ROWS) of a [rows][row_stride] global matrix into a shared
// tile at the offsets `layout(row, chunk)` gives; rows at or past `valid_rows` become zeros, so
// later products over them are exact zeros. With cols < D (a multiple of 8) only the first cols
// columns are read and the rest of each row becomes zeros (a head dim padded to the tile's D).
template <int ROWS, int D, int THREADS, typename T, typename Layout = SwizzledRows<D>>
__device__ __forceinline__ void load_tile_async(T* tile, const T* src, int64_t row_stride, int row0, int valid_rows,
                                                Layout layout = Layout{}, int cols = D) {
  constexpr int CHUNKS = D / 8;
  static_assert((ROWS * CHUNKS) % THREADS == 0, "tile chunks must split evenly over the threads");
#pragma unroll
  for (int i = 0; i < ROWS * CHUNKS / THREADS; i++) {
    const int idx = i * THREADS + static_cast<int>(threadIdx.x);
    const int r = idx / CHUNKS;
    const int c = idx % CHUNKS;
    const bool inside = row0 + r < valid_rows && c * 8 < cols;
    const T* g = src + (inside ? static_cast<int64_t>(row0 + r) * row_stride + c * 8 : 0);
    cp_async_16(tile + layout(r, c), g, inside ? 16 : 0);
  }
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(p))
               : "memory");
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(p))
               : "memory");
}

// c += a · b for one 16×8×16 block.
template <typename T>
__device__ __forceinline__ void mma_16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);

template <>
__device__ __forceinline__ void mma_16816<__nv_bfloat16>(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                                         uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

template <>
__device__ __forceinline__ void mma_16816<__half>(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats rounded to the 16-bit type, packed low-first into one register.
template <typename T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi);

template <>
__device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}

template <>
__device__ __forceinline__ uint32_t pack2<__half>(float lo, float hi) {
  __half2 v = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}

// A fragments (16 rows × D) of rows [row0, row0 + 16) of a shared tile.
template <int D, typename T>
__device__ __forceinline__ void load_a(uint32_t (&a)[D / 16][4], const T* tile, int row0) {
  const int lane = static_cast<int>(threadIdx.x) & 31;
#pragma unroll
  for (int kk = 0; kk < D / 16; kk++) {
    ldmatrix_x4(a[kk], tile + swizzled<D>(row0 + (lane & 15), 2 * kk + (lane >> 4)));
  }
}

// acc (16 × ROWS) += A (16 × D, rows [a_row0, a_row0 + 16) of tile_a) · tile_bᵀ, where tile_b is
// [ROWS][D]: the product of a warp's rows with every row of the other tile (Q Kᵀ, dO Vᵀ, K Qᵀ).
template <int ROWS, int D, typename T>
__device__ __forceinline__ void mma_rows_by_rows(float (&acc)[ROWS / 8][4], const T* tile_a, int a_row0,
                                                 const T* tile_b) {
  const int lane = static_cast<int>(threadIdx.x) & 31;
#pragma unroll
  for (int kk = 0; kk < D / 16; kk++) {
    uint32_t a[4];
    ldmatrix_x4(a, tile_a + swizzled<D>(a_row0 + (lane & 15), 2 * kk + (lane >> 4)));
#pragma unroll
    for (int j = 0; j < ROWS / 16; j++) {
      uint32_t b[4];
      ldmatrix_x4(b, tile_b + swizzled<D>(j * 16 + (lane & 7) + ((lane >> 4) << 3), 2 * kk + ((lane >> 3) & 1)));
      mma_16816<T>(acc[2 * j], a, b[0], b[1]);
      mma_16816<T>(acc[2 * j + 1], a, b[2], b[3]);
    }
  }
}

// Same product for MT blocks of 16 rows with A already in registers (loaded once by load_a); each
// B fragment read from shared memory feeds MT products.
template <int MT, int ROWS, int D, typename T>
__device__ __forceinline__ void mma_regs_by_rows(float (&acc)[MT][ROWS / 8][4], const uint32_t (&a)[MT][D / 16][4],
                                                 const T* tile_b) {
  const int lane = static_cast<int>(threadIdx.x) & 31;
#pragma unroll
  for (int kk = 0; kk < D / 16; kk++) {
#pragma unroll
    for (int j = 0; j < ROWS / 16; j++) {
      uint32_t b[4];
      ldmatrix_x4(b, tile_b + swizzled<D>(j * 16 + (lane & 7) + ((lane >> 4) << 3), 2 * kk + ((lane >> 3) & 1)));
#pragma unroll
      for (int m = 0; m < MT; m++) {
        mma_16816<T>(acc[m][2 * j], a[m][kk], b[0], b[1]);
        mma_16816<T>(acc[m][2 * j + 1], a[m][kk], b[2], b[3]);
      }
    }
  }
}

// acc (16 × COLS per block) += P (MT blocks of 16 × ROWS, A fragments in registers) · columns
// [col0, col0 + COLS) of tile (ROWS × D): P V, dS K, Pᵀ dO, dSᵀ Q (COLS < D: a column slice of them).
template <int MT, int ROWS, int D, typename T, int COLS = D>
__device__ __forceinline__ void mma_regs_by_tile(float (&acc)[MT][COLS / 8][4], const uint32_t (&p)[MT][ROWS / 16][4],
                                                 const T* tile, int col0 = 0) {
  const int lane = static_cast<int>(threadIdx.x) & 31;
#pragma unroll
  for (int kk = 0; kk < ROWS / 16; kk++) {
#pragma unroll
    for (int nn = 0; nn < COLS / 16; nn++) {
      uint32_t b[4];
      ldmatrix_x4_trans(b, tile + swizzled<D>(kk * 16 + (lane & 15), col0 / 8 + 2 * nn + (lane >> 4)));
#pragma unroll
      for (int m = 0; m < MT; m++) {
        mma_16816<T>(acc[m][2 * nn], p[m][kk], b[0], b[1]);
        mma_16816<T>(acc[m][2 * nn + 1], p[m][kk], b[2], b[3]);
      }
    }
  }
}

// Accumulator fragments of a 16 × COLS block → A fragments of the same block in the 16-bit type
// (the m16n8 C layout of two neighbouring n-blocks is the m16k16 A layout).
template <int COLS, typename T>
__device__ __forceinline__ void to_a_fragments(uint32_t (&a)[COLS / 16][4], const float (&c)[COLS / 8][4]) {
#pragma unroll
  for (int kk = 0; kk < COLS / 16; kk++) {
    a[kk][0] = pack2<T>(c[2 * kk][0], c[2 * kk][1]);
    a[kk][1] = pack2<T>(c[2 * kk][2], c[2 * kk][3]);
    a[kk][2] = pack2<T>(c[2 * kk + 1][0], c[2 * kk + 1][1]);
    a[kk][3] = pack2<T>(c[2 * kk + 1][2], c[2 * kk + 1][3]);
  }
}

template <int N>
__device__ __forceinline__ void zero(float (&c)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; i++) {
#pragma unroll
    for (int e = 0; e < 4; e++) c[i][e] = 0.0f;
  }
}

// Writes a warp's 16 × D accumulator block, times `factor`, to global rows [row0, row0 + 16)
// (those below valid_rows), only its first `cols` columns: staged through the warp's own 16 rows of
// a shared tile so the global stores are 16-byte and coalesced. The caller guarantees no other warp
// touches those rows.
template <int D, typename T>
__device__ __forceinline__ void store_rows(const float (&acc)[D / 8][4], float factor, T* stage, int stage_row0, T* dst,
                                           int64_t row_stride, int row0, int valid_rows, int cols = D) {
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int g = lane >> 2;
  const int t = lane & 3;
  __syncwarp();  // every lane's earlier reads of these rows (its Q fragments) precede the overwrite
#pragma unroll
  for (int n = 0; n < D / 8; n++) {
    const int r = stage_row0 + g;
    *reinterpret_cast<uint32_t*>(stage + swizzled<D>(r, n) + 2 * t) = pack2<T>(acc[n][0] * factor, acc[n][1] * factor);
    *reinterpret_cast<uint32_t*>(stage + swizzled<D>(r + 8, n) + 2 * t) =
        pack2<T>(acc[n][2] * factor, acc[n][3] * factor);
  }
  __syncwarp();
  constexpr int CHUNKS = D / 8;
#pragma unroll
  for (int i = 0; i < 16 * CHUNKS / 32; i++) {
    const int idx = i * 32 + lane;
    const int r = idx / CHUNKS;
    const int c = idx % CHUNKS;
    if (row0 + r < valid_rows && c * 8 < cols) {
      const uint4 v = *reinterpret_cast<const uint4*>(stage + swizzled<D>(stage_row0 + r, c));
      *reinterpret_cast<uint4*>(dst + static_cast<int64_t>(row0 + r) * row_stride + c * 8) = v;
    }
  }
}

}  // namespace attnzoo::mma
