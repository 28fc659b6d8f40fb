// Fused causal lightning attention forward (Lightning Attention-2 blocking) on tensor cores:
// o_t = Σ_{j≤t} λ^(t−j) (q_t·k_j) v_j per head. One CTA owns a (batch, head, EC-wide slice of the
// value dim) and walks the sequence in blocks of 64 tokens: inside a block the masked-decay product
// ((Q Kᵀ) ⊙ λ^(a−c)) V, plus λ^(a+1) Q S with the state S = Σ_{j<start} λ^(start−1−j) k_jᵀ v_j of
// the tokens before it, then S ← λ^m S + Σ_c λ^(m−1−c) k_cᵀ v_c. S stays in f32 registers (each warp
// owns d/4 of its rows); Q S reads a copy rounded to the input type, as the scores P are rounded
// for P V. The next block's tiles load (cp.async) while this one computes. When (batch, head,
// slice) CTAs alone would leave SMs idle, the sequence is also split into segments: a first launch
// computes each segment's own state, the second starts each segment from the decayed sum of the
// states before it (Problem::workspace). The bidirectional form adds a second, reversed pass that
// excludes the diagonal and accumulates into o.
#include "_mma_tile.cuh"
#include "_problem.cuh"

namespace lightning {

using attnzoo::mma::cp_async_16;
using attnzoo::mma::cp_async_commit;
using attnzoo::mma::cp_async_wait_all;
using attnzoo::mma::ldmatrix_x4;
using attnzoo::mma::ldmatrix_x4_trans;
using attnzoo::mma::mma_16816;
using attnzoo::mma::pack2;

constexpr int BLOCK = 64;  // tokens per block; 16 query rows per warp
constexpr int WARPS = 4;
constexpr int THREADS = 32 * WARPS;
constexpr float LOG2E = 1.4426950408889634f;

// Element offset of 16-byte chunk `chunk` of `row` in a shared [rows][COLS] tile, chunks
// XOR-swizzled so that the eight rows of one ldmatrix phase fall in eight different bank groups.
template <int COLS>
__device__ __forceinline__ int at(int row, int chunk) {
  if constexpr (COLS >= 64) {
    return row * COLS + ((chunk ^ (row & 7)) << 3);
  } else {
    static_assert(COLS == 32, "tiles are 32 or a multiple of 64 elements wide");
    return row * COLS + ((chunk ^ ((row >> 1) & 3)) << 3);  // two 64-byte rows share a 128-byte line
  }
}

// Starts loading rows [0, BLOCK) of a block (row r at src + r·stride); rows ≥ valid become zeros.
template <int COLS, typename T>
__device__ __forceinline__ void load_block(T* tile, const T* src, int64_t stride, int valid) {
  constexpr int CHUNKS = COLS / 8;
  static_assert((BLOCK * CHUNKS) % THREADS == 0, "chunks split evenly over the threads");
#pragma unroll
  for (int i = 0; i < BLOCK * CHUNKS / THREADS; i++) {
    const int idx = i * THREADS + static_cast<int>(threadIdx.x);
    const int r = idx / CHUNKS;
    const int c = idx % CHUNKS;
    const bool inside = r < valid;
    cp_async_16(tile + at<COLS>(r, c), src + (inside ? r * stride + c * 8 : 0), inside ? 16 : 0);
  }
}

// Multiplies the two 16-bit values packed in x by lo and hi (f32 math, rounded back).
template <typename T>
__device__ __forceinline__ uint32_t scale2(uint32_t x, float lo, float hi);

template <>
__device__ __forceinline__ uint32_t scale2<__nv_bfloat16>(uint32_t x, float lo, float hi) {
  const float2 f = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&x));
  return pack2<__nv_bfloat16>(f.x * lo, f.y * hi);
}

template <>
__device__ __forceinline__ uint32_t scale2<__half>(uint32_t x, float lo, float hi) {
  const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&x));
  return pack2<__half>(f.x * lo, f.y * hi);
}

// acc (16 × COLS) += A (16 rows of `a_tile` from a_row0, K = ROWS wide) · tile (ROWS × COLS),
// only k-blocks below kk_end: Q S (ROWS = d) and, with A in registers, P V.
template <int ROWS, int COLS, typename T>
__device__ __forceinline__ void rows_by_tile(float (&acc)[COLS / 8][4], const T* a_tile, int a_row0, const T* tile) {
  const int lane = static_cast<int>(threadIdx.x) & 31;
#pragma unroll 4
  for (int kk = 0; kk < ROWS / 16; kk++) {
    uint32_t a[4];
    ldmatrix_x4(a, a_tile + at<ROWS>(a_row0 + (lane & 15), 2 * kk + (lane >> 4)));
#pragma unroll
    for (int nn = 0; nn < COLS / 16; nn++) {
      uint32_t b[4];
      ldmatrix_x4_trans(b, tile + at<COLS>(kk * 16 + (lane & 15), 2 * nn + (lane >> 4)));
      mma_16816<T>(acc[2 * nn], a, b[0], b[1]);
      mma_16816<T>(acc[2 * nn + 1], a, b[2], b[3]);
    }
  }
}

// STATES_ONLY: the first launch of a split sequence, which only computes each segment's own state
// (a compile-time switch, so that the full kernel keeps its registers).
template <typename T, int D, int EC, bool STATES_ONLY>
__global__ void __launch_bounds__(THREADS) forward_kernel(Problem p) {
  constexpr int MT = D / 16 / WARPS;  // 16-row blocks of S per warp
  extern __shared__ __align__(128) unsigned char smem[];
  T* q_tiles = reinterpret_cast<T*>(smem);        // [2][BLOCK][D]
  T* k_tiles = q_tiles + 2 * BLOCK * D;           // [2][BLOCK][D]
  T* v_tiles = k_tiles + 2 * BLOCK * D;           // [2][BLOCK][EC]
  T* s_tile = v_tiles + 2 * BLOCK * EC;           // [D][EC]: S in T for Q S
  T* stage = s_tile + D * EC;                     // [BLOCK][EC]: output rows on their way out

  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int g = lane >> 2;
  const int t = lane & 3;
  const int e0 = static_cast<int>(blockIdx.x) * EC;
  const int h = static_cast<int>(blockIdx.y);
  const int b = static_cast<int>(blockIdx.z) / p.segments;
  const int segment = static_cast<int>(blockIdx.z) % p.segments;
  if (STATES_ONLY && segment == p.segments - 1) return;  // nobody reads the last segment's own state
  const int seg_start = segment * p.segment_len;
  const int seg_end = min(p.n, seg_start + p.segment_len);
  const float rate = p.rates[h] * LOG2E;  // λ^x = exp2(−rate·x)

  const T* q = static_cast<const T*>(p.q) + b * p.qs.batch + h * p.qs.head;
  const T* k = static_cast<const T*>(p.k) + b * p.ks.batch + h * p.ks.head;
  const T* v = static_cast<const T*>(p.v) + b * p.vs.batch + h * p.vs.head + e0;
  T* o = static_cast<T*>(p.o) + b * p.os.batch + h * p.os.head + e0;
  const int64_t state_offset = (static_cast<int64_t>(b) * p.heads + h) * D * p.e + e0;
  const int64_t segment_stride = static_cast<int64_t>(p.batch) * p.heads * D * p.e;  // workspace

  // this warp's rows of S: d rows (warp·MT + mt)·16 + g (+8), columns n·8 + 2t (+1). Before the
  // segment: λ^start state_in + Σ_{earlier segments s} λ^(start − end_s) (own state of s).
  float s[MT][EC / 8][4];
#pragma unroll
  for (int mt = 0; mt < MT; mt++) {
#pragma unroll
    for (int n = 0; n < EC / 8; n++) {
      const int row = (warp * MT + mt) * 16 + g;
      const int col = n * 8 + 2 * t;
      float2 lo = make_float2(0.0f, 0.0f), hi = lo;
      if (!STATES_ONLY) {
        if (p.state_in != nullptr) {
          const float f = exp2f(-rate * static_cast<float>(seg_start));
          const float* in = p.state_in + state_offset;
          const float2 a = *reinterpret_cast<const float2*>(in + static_cast<int64_t>(row) * p.e + col);
          const float2 c = *reinterpret_cast<const float2*>(in + static_cast<int64_t>(row + 8) * p.e + col);
          lo = make_float2(f * a.x, f * a.y);
          hi = make_float2(f * c.x, f * c.y);
        }
        for (int earlier = 0; earlier < segment; earlier++) {
          const float f = exp2f(-rate * static_cast<float>((segment - 1 - earlier) * p.segment_len));
          const float* own = p.workspace + earlier * segment_stride + state_offset;
          const float2 a = *reinterpret_cast<const float2*>(own + static_cast<int64_t>(row) * p.e + col);
          const float2 c = *reinterpret_cast<const float2*>(own + static_cast<int64_t>(row + 8) * p.e + col);
          lo = make_float2(lo.x + f * a.x, lo.y + f * a.y);
          hi = make_float2(hi.x + f * c.x, hi.y + f * c.y);
        }
      }
      s[mt][n][0] = lo.x;
      s[mt][n][1] = lo.y;
      s[mt][n][2] = hi.x;
      s[mt][n][3] = hi.y;
      *reinterpret_cast<uint32_t*>(s_tile + at<EC>(row, n) + 2 * t) = pack2<T>(lo.x, lo.y);
      *reinterpret_cast<uint32_t*>(s_tile + at<EC>(row + 8, n) + 2 * t) = pack2<T>(hi.x, hi.y);
    }
  }

  const int blocks = (seg_end - seg_start + BLOCK - 1) / BLOCK;
  if (!STATES_ONLY) load_block<D>(q_tiles, q + seg_start * p.qs.token, p.qs.token, seg_end - seg_start);
  load_block<D>(k_tiles, k + seg_start * p.ks.token, p.ks.token, seg_end - seg_start);
  load_block<EC>(v_tiles, v + seg_start * p.vs.token, p.vs.token, seg_end - seg_start);
  cp_async_commit();

  const int row0 = warp * 16;  // this warp's query rows in the block
  for (int blk = 0; blk < blocks; blk++) {
    const int start = seg_start + blk * BLOCK;
    const int m = min(BLOCK, seg_end - start);
    const int cur = blk & 1;
    cp_async_wait_all();
    __syncthreads();  // block blk's tiles and the S tile are visible; the other buffers are free
    if (blk + 1 < blocks) {
      const int next = start + BLOCK;
      const int valid = seg_end - next;
      if (!STATES_ONLY) load_block<D>(q_tiles + (cur ^ 1) * BLOCK * D, q + next * p.qs.token, p.qs.token, valid);
      load_block<D>(k_tiles + (cur ^ 1) * BLOCK * D, k + next * p.ks.token, p.ks.token, valid);
      load_block<EC>(v_tiles + (cur ^ 1) * BLOCK * EC, v + next * p.vs.token, p.vs.token, valid);
      cp_async_commit();
    }
    const T* qt = q_tiles + cur * BLOCK * D;
    const T* kt = k_tiles + cur * BLOCK * D;
    const T* vt = v_tiles + cur * BLOCK * EC;

    if constexpr (!STATES_ONLY) {
      // inter-block part first: acc = λ^(a+1) · Q S
      float acc[EC / 8][4];
#pragma unroll
      for (int n = 0; n < EC / 8; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
      rows_by_tile<D, EC, T>(acc, qt, row0, s_tile);
      const float carry_lo = exp2f(-rate * static_cast<float>(row0 + g + 1));
      const float carry_hi = exp2f(-rate * static_cast<float>(row0 + g + 9));
#pragma unroll
      for (int n = 0; n < EC / 8; n++) {
        acc[n][0] *= carry_lo;
        acc[n][1] *= carry_lo;
        acc[n][2] *= carry_hi;
        acc[n][3] *= carry_hi;
      }

      // intra-block scores of this warp's rows against keys 0 … row0 + 15 (later keys are masked)
      float sc[BLOCK / 8][4];
#pragma unroll
      for (int n = 0; n < BLOCK / 8; n++) sc[n][0] = sc[n][1] = sc[n][2] = sc[n][3] = 0.0f;
#pragma unroll 4
      for (int kk = 0; kk < D / 16; kk++) {
        uint32_t a[4];
        ldmatrix_x4(a, qt + at<D>(row0 + (lane & 15), 2 * kk + (lane >> 4)));
#pragma unroll
        for (int j = 0; j < BLOCK / 16; j++) {
          if (j <= warp) {
            uint32_t bk[4];
            ldmatrix_x4(bk, kt + at<D>(j * 16 + (lane & 7) + ((lane >> 4) << 3), 2 * kk + ((lane >> 3) & 1)));
            mma_16816<T>(sc[2 * j], a, bk[0], bk[1]);
            mma_16816<T>(sc[2 * j + 1], a, bk[2], bk[3]);
          }
        }
      }
      // decay mask λ^(a−c) for c ≤ a (c < a in the strict pass), then P in T as A fragments
      uint32_t pf[BLOCK / 16][4];
#pragma unroll
      for (int n = 0; n < BLOCK / 8; n++) {
#pragma unroll
        for (int i = 0; i < 4; i++) {
          const int a = row0 + g + (i >= 2 ? 8 : 0);
          const int c = n * 8 + 2 * t + (i & 1);
          const bool keep = p.strict ? c < a : c <= a;
          sc[n][i] = keep ? sc[n][i] * exp2f(-rate * static_cast<float>(a - c)) : 0.0f;
        }
      }
#pragma unroll
      for (int kk = 0; kk < BLOCK / 16; kk++) {
        pf[kk][0] = pack2<T>(sc[2 * kk][0], sc[2 * kk][1]);
        pf[kk][1] = pack2<T>(sc[2 * kk][2], sc[2 * kk][3]);
        pf[kk][2] = pack2<T>(sc[2 * kk + 1][0], sc[2 * kk + 1][1]);
        pf[kk][3] = pack2<T>(sc[2 * kk + 1][2], sc[2 * kk + 1][3]);
      }
      // acc += P V over the key blocks at or before this warp's rows
#pragma unroll
      for (int kk = 0; kk < BLOCK / 16; kk++) {
        if (kk <= warp) {
#pragma unroll
          for (int nn = 0; nn < EC / 16; nn++) {
            uint32_t bv[4];
            ldmatrix_x4_trans(bv, vt + at<EC>(kk * 16 + (lane & 15), 2 * nn + (lane >> 4)));
            mma_16816<T>(acc[2 * nn], pf[kk], bv[0], bv[1]);
            mma_16816<T>(acc[2 * nn + 1], pf[kk], bv[2], bv[3]);
          }
        }
      }

      // out: this warp's 16 rows through its own rows of the stage tile, 16-byte stores
#pragma unroll
      for (int n = 0; n < EC / 8; n++) {
        *reinterpret_cast<uint32_t*>(stage + at<EC>(row0 + g, n) + 2 * t) = pack2<T>(acc[n][0], acc[n][1]);
        *reinterpret_cast<uint32_t*>(stage + at<EC>(row0 + g + 8, n) + 2 * t) = pack2<T>(acc[n][2], acc[n][3]);
      }
      __syncwarp();
      constexpr int CHUNKS = EC / 8;
#pragma unroll
      for (int i = 0; i < 16 * CHUNKS / 32; i++) {
        const int idx = i * 32 + lane;
        const int r = idx / CHUNKS;
        const int c = idx % CHUNKS;
        if (row0 + r < m) {
          uint4 val = *reinterpret_cast<const uint4*>(stage + at<EC>(row0 + r, c));
          T* dst = o + (start + row0 + r) * p.os.token + c * 8;
          if (p.accumulate) {
            const uint4 old = *reinterpret_cast<const uint4*>(dst);
            const uint32_t* x = reinterpret_cast<const uint32_t*>(&val);
            const uint32_t* y = reinterpret_cast<const uint32_t*>(&old);
            uint32_t sum[4];
#pragma unroll
            for (int w = 0; w < 4; w++) {
              const T* xs = reinterpret_cast<const T*>(&x[w]);
              const T* ys = reinterpret_cast<const T*>(&y[w]);
              sum[w] = pack2<T>(az_load(xs, 0) + az_load(ys, 0), az_load(xs, 1) + az_load(ys, 1));
            }
            val = make_uint4(sum[0], sum[1], sum[2], sum[3]);
          }
          *reinterpret_cast<uint4*>(dst) = val;
        }
      }
    }

    // state: S ← λ^m S + Σ_c λ^(m−1−c) k_cᵀ v_c (rows c ≥ m of the tiles are zeros)
    const float block_decay = exp2f(-rate * static_cast<float>(m));
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
#pragma unroll
      for (int n = 0; n < EC / 8; n++) {
#pragma unroll
        for (int i = 0; i < 4; i++) s[mt][n][i] *= block_decay;
      }
    }
#pragma unroll
    for (int kk = 0; kk < BLOCK / 16; kk++) {
      if (kk * 16 < m) {
        float wc[4];  // weights of tokens kk·16 + 2t, +1, +8, +9
#pragma unroll
        for (int i = 0; i < 4; i++) {
          const int c = kk * 16 + 2 * t + (i & 1) + (i >= 2 ? 8 : 0);
          wc[i] = c < m ? exp2f(-rate * static_cast<float>(m - 1 - c)) : 0.0f;
        }
        uint32_t ka[MT][4];  // Kᵀ fragments: d rows of this warp × 16 tokens, decayed
        const int mi = lane >> 3;
#pragma unroll
        for (int mt = 0; mt < MT; mt++) {
          const int d0 = (warp * MT + mt) * 16;
          ldmatrix_x4_trans(ka[mt], kt + at<D>(kk * 16 + (mi >> 1) * 8 + (lane & 7), d0 / 8 + (mi & 1)));
          ka[mt][0] = scale2<T>(ka[mt][0], wc[0], wc[1]);
          ka[mt][1] = scale2<T>(ka[mt][1], wc[0], wc[1]);
          ka[mt][2] = scale2<T>(ka[mt][2], wc[2], wc[3]);
          ka[mt][3] = scale2<T>(ka[mt][3], wc[2], wc[3]);
        }
#pragma unroll
        for (int nn = 0; nn < EC / 16; nn++) {
          uint32_t bv[4];
          ldmatrix_x4_trans(bv, vt + at<EC>(kk * 16 + (lane & 15), 2 * nn + (lane >> 4)));
#pragma unroll
          for (int mt = 0; mt < MT; mt++) {
            mma_16816<T>(s[mt][2 * nn], ka[mt], bv[0], bv[1]);
            mma_16816<T>(s[mt][2 * nn + 1], ka[mt], bv[2], bv[3]);
          }
        }
      }
    }
    __syncthreads();  // every warp has read the S tile of this block
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
      const int row = (warp * MT + mt) * 16 + g;
#pragma unroll
      for (int n = 0; n < EC / 8; n++) {
        *reinterpret_cast<uint32_t*>(s_tile + at<EC>(row, n) + 2 * t) = pack2<T>(s[mt][n][0], s[mt][n][1]);
        *reinterpret_cast<uint32_t*>(s_tile + at<EC>(row + 8, n) + 2 * t) = pack2<T>(s[mt][n][2], s[mt][n][3]);
      }
    }
  }

  float* out = nullptr;  // where this CTA's S goes: its own segment state, or the final state
  if (STATES_ONLY) {
    out = p.workspace + segment * segment_stride + state_offset;
  } else if (p.state_out != nullptr && segment == p.segments - 1) {
    out = p.state_out + state_offset;
  }
  if (out != nullptr) {
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
#pragma unroll
      for (int n = 0; n < EC / 8; n++) {
        const int row = (warp * MT + mt) * 16 + g;
        const int col = n * 8 + 2 * t;
        *reinterpret_cast<float2*>(out + static_cast<int64_t>(row) * p.e + col) = make_float2(s[mt][n][0], s[mt][n][1]);
        *reinterpret_cast<float2*>(out + static_cast<int64_t>(row + 8) * p.e + col) =
            make_float2(s[mt][n][2], s[mt][n][3]);
      }
    }
  }
}

template <typename T, int D, int EC>
static int launch(const char* op, const Problem& p, cudaStream_t stream) {
  constexpr int bytes = (2 * BLOCK * D * 2 + 2 * BLOCK * EC + D * EC + BLOCK * EC) * static_cast<int>(sizeof(T));
  static bool configured = false;  // the opt-in above 48 KiB is a per-kernel attribute
  if (!configured) {
    LA_CUDA_CHECK(op, cudaFuncSetAttribute(forward_kernel<T, D, EC, true>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
    LA_CUDA_CHECK(op, cudaFuncSetAttribute(forward_kernel<T, D, EC, false>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
    configured = true;
  }
  const dim3 grid(p.e / EC, p.heads, p.batch * p.segments);
  if (p.segments > 1) {
    forward_kernel<T, D, EC, true><<<grid, THREADS, bytes, stream>>>(p);
    LA_CUDA_CHECK(op, cudaGetLastError());
  }
  forward_kernel<T, D, EC, false><<<grid, THREADS, bytes, stream>>>(p);
  LA_CUDA_CHECK(op, cudaGetLastError());
  return AZ_OK;
}

template <typename T, int D>
static int launch_width(const char* op, const Problem& p, int width, cudaStream_t stream) {
  if (width == 32) return launch<T, D, 32>(op, p, stream);
  if constexpr (D != 256) return launch<T, D, 64>(op, p, stream);
  return fail(AZ_INVALID, op, "no 64-wide slices for d = 256");
}

template <typename T>
static int launch_dtype(const char* op, const Problem& p, int width, cudaStream_t stream) {
  switch (p.d) {
    case 64:
      return launch_width<T, 64>(op, p, width, stream);
    case 128:
      return launch_width<T, 128>(op, p, width, stream);
    default:
      return launch_width<T, 256>(op, p, width, stream);
  }
}

static int run(const char* op, int dtype, const Problem& p, int width, cudaStream_t stream) {
  return dtype == AZ_BF16 ? launch_dtype<__nv_bfloat16>(op, p, width, stream)
                          : launch_dtype<__half>(op, p, width, stream);
}

// How one call spreads over the GPU: value-dim slices of 32 when slices of 64 would leave SMs
// idle (batch-1 prefill) or d = 256 needs the registers, 64 otherwise (fewer recomputed Q Kᵀ);
// then as many sequence segments as fill the resident CTA slots (at most MAX_SEGMENTS).
struct Plan {
  int width, segments, segment_len;
};

constexpr int MAX_SEGMENTS = 16;

static int plan(const char* op, int batch, int heads, int n, int d, int e, Plan* out) {
  int device = 0, sms = 0;
  LA_CUDA_CHECK(op, cudaGetDevice(&device));
  LA_CUDA_CHECK(op, cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  const int64_t slabs = static_cast<int64_t>(batch) * heads;
  const int width = d == 256 || e % 64 != 0 || slabs * (e / 64) < sms ? 32 : 64;
  const int64_t ctas = slabs * (e / width);
  const int resident = d == 256 ? 1 : 2;  // CTAs per SM that shared memory and registers allow
  const int blocks = (n + BLOCK - 1) / BLOCK;
  int64_t segments = static_cast<int64_t>(sms) * resident / ctas;
  segments = segments < 1 ? 1 : segments;
  segments = segments > MAX_SEGMENTS ? MAX_SEGMENTS : segments;
  segments = segments > blocks ? blocks : segments;
  segments = segments * batch > 65535 ? 1 : segments;  // grid z limit
  const int per = (blocks + static_cast<int>(segments) - 1) / static_cast<int>(segments);  // blocks per segment
  out->width = width;
  out->segments = (blocks + per - 1) / per;
  out->segment_len = per * BLOCK;
  return AZ_OK;
}

// Workspace of a plan: one f32 state per segment and slab (the last holds the final state when it
// overwrites state_in); none without segments.
static int64_t workspace_bytes(const Plan& plan, int batch, int heads, int d, int e) {
  if (plan.segments == 1) return 0;
  return static_cast<int64_t>(plan.segments) * batch * heads * d * e * static_cast<int64_t>(sizeof(float));
}

// The same operand read from its last token backwards.
static void reverse(const void*& base, Strides& s, int n) {
  base = static_cast<const char*>(base) + 2 * (n - 1) * s.token;
  s.token = -s.token;
}

}  // namespace lightning

/**
 * Lightning attention forward. q, k: [batch, heads, n, d] and v, o: [batch, heads, n, e], each
 * addressed by its element strides (batch, head, token) in `strides` order q, k, v, o, features
 * contiguous; f16 or bf16 (dtype code), 16-byte aligned device pointers, strides multiples of 8;
 * d 64, 128 or 256; e a multiple of 32. rates: f32 [heads] device array of s_h (λ_h = exp(−s_h)).
 * Causal (bidirectional 0): o_t = Σ_{j≤t} λ^(t−j) (q_t·k_j) v_j after the state state_in (f32
 * [batch, heads, d, e], 0 = zeros) of the tokens before; state_out (0 = none, may equal state_in)
 * receives the state after the last token, Σ_j λ^(n−1−j) k_jᵀ v_j + λ^n state_in. Bidirectional 1:
 * o_t = Σ_j λ^|t−j| (q_t·k_j) v_j, no states. workspace: a device array of workspace_size bytes,
 * at least attnzoo_lightning_workspace(...) for the sequence to be split over more CTAs (0 = one
 * CTA per slice walks the whole sequence). stream: a cudaStream_t (0 = default).
 */
AZ_API int attnzoo_lightning_forward(int dtype, uint64_t q, uint64_t k, uint64_t v, uint64_t o, uint64_t rates,
                                     uint64_t state_in, uint64_t state_out, int batch, int heads, int n, int d, int e,
                                     int bidirectional, int64_t q_batch, int64_t q_head, int64_t q_token,
                                     int64_t k_batch, int64_t k_head, int64_t k_token, int64_t v_batch, int64_t v_head,
                                     int64_t v_token, int64_t o_batch, int64_t o_head, int64_t o_token,
                                     uint64_t workspace, int64_t workspace_size, uint64_t stream) {
  using namespace lightning;
  const char* op = "lightning_forward";
  const int64_t strides[12] = {q_batch, q_head, q_token, k_batch, k_head, k_token,
                               v_batch, v_head, v_token, o_batch, o_head, o_token};
  Problem p;
  LA_CHECK(make_problem(op, dtype, q, k, v, o, rates, batch, heads, n, d, e, strides, &p));
  LA_CHECK(check_state(op, "state_in", state_in));
  LA_CHECK(check_state(op, "state_out", state_out));
  if (bidirectional != 0 && (state_in != 0 || state_out != 0)) {
    return fail(AZ_INVALID, op, "the bidirectional form takes no state_in or state_out");
  }
  p.state_in = reinterpret_cast<const float*>(state_in);
  p.state_out = reinterpret_cast<float*>(state_out);
  cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  Plan layout{32, 1, n};
  LA_CHECK(plan(op, batch, heads, n, d, e, &layout));
  const int64_t needed = workspace_bytes(layout, batch, heads, d, e);
  if (workspace == 0 || workspace % 16 != 0 || workspace_size < needed) {
    layout.segments = 1;  // no (usable) workspace: one CTA walks the whole sequence
    layout.segment_len = n;
  }
  p.segments = layout.segments;
  p.segment_len = layout.segment_len;
  p.workspace = reinterpret_cast<float*>(workspace);
  // segments read state_in at their start while the last one writes state_out: when they are the
  // same array the final state goes to the workspace's spare slot first
  const bool spare = p.segments > 1 && state_out != 0 && state_out == state_in;
  const int64_t state_bytes = static_cast<int64_t>(batch) * heads * d * e * static_cast<int64_t>(sizeof(float));
  if (spare) p.state_out = p.workspace + (p.segments - 1) * (state_bytes / static_cast<int64_t>(sizeof(float)));
  LA_CHECK(run(op, dtype, p, layout.width, s));
  if (spare) {
    LA_CUDA_CHECK(op, cudaMemcpyAsync(reinterpret_cast<void*>(state_out), p.state_out, state_bytes,
                                      cudaMemcpyDeviceToDevice, s));
  }
  if (bidirectional == 0) return AZ_OK;
  // j > t: the causal form of the reversed sequence without its diagonal, added to o
  Problem back = p;
  reverse(back.q, back.qs, n);
  reverse(back.k, back.ks, n);
  reverse(back.v, back.vs, n);
  const void* out = back.o;
  reverse(out, back.os, n);
  back.o = const_cast<void*>(out);
  back.strict = true;
  back.accumulate = true;
  return run(op, dtype, back, layout.width, s);
}

/**
 * Bytes of workspace that lets attnzoo_lightning_forward split the sequence of a call of these
 * sizes over more CTAs (0: it would not split); -1 with the last error set on failure.
 */
AZ_API int64_t attnzoo_lightning_workspace(int batch, int heads, int n, int d, int e) {
  using namespace lightning;
  const char* op = "lightning_workspace";
  if (batch < 1 || heads < 1 || n < 1 || d < 1 || e < 32 || e % 32 != 0) {
    fail(AZ_INVALID, op, "bad sizes: batch %d, heads %d, n %d, d %d, e %d", batch, heads, n, d, e);
    return -1;
  }
  Plan layout{32, 1, n};
  if (plan(op, batch, heads, n, d, e, &layout) != AZ_OK) return -1;
  return workspace_bytes(layout, batch, heads, d, e);
}
