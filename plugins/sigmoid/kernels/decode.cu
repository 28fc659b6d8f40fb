// FlashSigmoid decode: a few new queries against a long KV cache. The query rows of one GQA group
// (heads / kv_heads × nq, padded to 16) form one mma.sync A block, so each K/V element read from
// memory serves the whole group; the keys are split over CTAs so that batch 1 fills the GPU.
// Sigmoid weights need no normaliser, so the partial outputs of the key splits simply add: each
// split writes f32 partial sums and a combine pass adds them (one split writes the output directly).
#include <algorithm>
#include <mutex>

#include "_dispatch.cuh"
#include "_forward.cuh"
#include "_mma_tile.cuh"
#include "_score.cuh"
#include "_status.cuh"

namespace flash_sigmoid {

using namespace attnzoo::mma;

// 4 warps per CTA, each streaming its own key tiles of BN through private double-buffered shared
// memory (no block-wide barrier in the key loop); the warps' sums meet once at the end.
constexpr int DECODE_WARPS = 4, DECODE_THREADS = DECODE_WARPS * 32, DECODE_ROWS = 16;

// By tile width D (tile_dim of the head dim): keys per warp tile (16 at D 256, where Q and O alone
// hold 192 registers; 32 at D 128 gives 135 KB of shared memory, 1 CTA per SM, which run split1
// measured 0–17 % faster than 16-key tiles at 3 CTAs per SM), and the fewest keys of a split (two tiles per warp) so that the Q load and
// the final reduction stay small against its key loop.
template <int D>
struct DecodeTile {
  static constexpr int BN = D == 256 ? 16 : 32, MIN_CHUNK = 2 * DECODE_WARPS * BN;
};

template <int D>
constexpr int decode_smem_bytes() {
  // Q block + per warp two stages of K and V tiles; the reduction of f32 sums reuses the tiles
  constexpr int tiles = (DECODE_ROWS * D + DECODE_WARPS * 4 * DecodeTile<D>::BN * D) * 2;
  constexpr int reduce = DECODE_ROWS * D * 2 + DECODE_WARPS * DECODE_ROWS * D * 4;
  return tiles > reduce ? tiles : reduce;
}

// One warp starts loading key rows [row0, row0 + BN) of a head into its tile, their first `cols`
// columns; rows at or past `end` and columns past cols become zeros (their products vanish: the V
// rows and columns are zero too).
template <int D, typename T>
__device__ __forceinline__ void warp_load_keys(T* tile, const T* head, int64_t row_stride, int row0, int end, int cols) {
  constexpr int CHUNKS = D / 8, BN = DecodeTile<D>::BN;
  const int lane = static_cast<int>(threadIdx.x) & 31;
#pragma unroll
  for (int i = 0; i < BN * CHUNKS / 32; i++) {
    const int idx = i * 32 + lane;
    const int r = idx / CHUNKS, c = idx % CHUNKS;
    const bool inside = row0 + r < end && c * 8 < cols;
    cp_async_16(tile + swizzled<D>(r, c), head + (inside ? static_cast<int64_t>(row0 + r) * row_stride + c * 8 : 0),
                inside ? 16 : 0);
  }
}

// Row r of the CTA's block is row rg·16 + r of the group: query i = row % nq of head hk·G + row / nq.
struct DecodeRow {
  bool valid;
  int query, head;
};

__device__ __forceinline__ DecodeRow decode_row(const Problem& p, int hk, int rg, int r) {
  const int group = p.heads / p.kv_heads;
  const int row = rg * DECODE_ROWS + r;
  if (row >= group * p.nq) return {false, 0, 0};
  return {true, row % p.nq, hk * group + row / p.nq};
}

// grid (splits, kv_heads × row groups, batch). partial: null with one split (o is written), else
// f32 [splits][batch][heads][nq][HD]. HD: the head dim, in tiles of D = tile_dim(HD) columns.
template <typename T, int HD, bool CAUSAL, bool ALIBI>
__global__ void __launch_bounds__(DECODE_THREADS)
    decode_kernel(Problem p, const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                  T* __restrict__ o, float* __restrict__ partial, int chunk) {
  constexpr int D = tile_dim(HD), BN = DecodeTile<D>::BN, CHUNKS = D / 8;
  constexpr bool ACCURATE = AccurateSigmoid<T>::value;
  extern __shared__ __align__(128) unsigned char smem[];
  T* s_q = reinterpret_cast<T*>(smem);  // [16][D]
  const int warp = static_cast<int>(threadIdx.x) >> 5, lane = static_cast<int>(threadIdx.x) & 31;
  T* s_k = s_q + DECODE_ROWS * D + warp * 4 * BN * D;  // this warp's two K stages, then two V stages
  T* s_v = s_k + 2 * BN * D;
  const int row_groups = ((p.heads / p.kv_heads) * p.nq + DECODE_ROWS - 1) / DECODE_ROWS;
  const int hk = static_cast<int>(blockIdx.y) / row_groups, rg = static_cast<int>(blockIdx.y) % row_groups;
  const int b = blockIdx.z, split = blockIdx.x;
  const int offset = p.nk - p.nq;
  const int k0 = split * chunk, k1 = min(p.nk, k0 + chunk);
  const T* k_head = k + b * p.kv_batch + hk * p.k_head;
  const T* v_head = v + b * p.v_batch + hk * p.v_head;

  for (int idx = threadIdx.x; idx < DECODE_ROWS * CHUNKS; idx += DECODE_THREADS) {
    const int r = idx / CHUNKS, c = idx % CHUNKS;
    const DecodeRow row = decode_row(p, hk, rg, r);
    const T* src = q + b * p.q_batch + row.query * p.q_row + row.head * p.q_head + c * 8;
    const bool inside = row.valid && c * 8 < HD;
    cp_async_16(s_q + swizzled<D>(r, c), inside ? src : q, inside ? 16 : 0);
  }
  int n0 = k0 + warp * BN;
  if (n0 < k1) {
    warp_load_keys<D>(s_k, k_head, p.kv_row, n0, k1, HD);
    warp_load_keys<D>(s_v, v_head, p.v_row, n0, k1, HD);
  }
  cp_async_commit();

  // The score parameters of this lane's two rows (lane / 4 and lane / 4 + 8), halved as in HalfScore.
  const float half_scale = 0.5f * p.scale, half_bias = 0.5f * p.bias;
  int query[2];
  float half_slope[2];
#pragma unroll
  for (int e = 0; e < 2; e++) {
    const DecodeRow row = decode_row(p, hk, rg, (lane >> 2) + 8 * e);
    query[e] = row.query;
    half_slope[e] = ALIBI && row.valid ? 0.5f * p.slopes[static_cast<int64_t>(b) * p.slopes_batch_stride + row.head]
                                       : 0.0f;
  }
  float acc[1][D / 8][4];
  zero(acc[0]);
  cp_async_wait_all();
  __syncthreads();
  uint32_t qf[1][D / 16][4];
  load_a<D>(qf[0], s_q, 0);

  for (int stage = 0; n0 < k1; n0 += DECODE_WARPS * BN, stage ^= 1) {
    const int next = n0 + DECODE_WARPS * BN;
    if (next < k1) {
      warp_load_keys<D>(s_k + (stage ^ 1) * BN * D, k_head, p.kv_row, next, k1, HD);
      warp_load_keys<D>(s_v + (stage ^ 1) * BN * D, v_head, p.v_row, next, k1, HD);
      cp_async_commit();
    }
    float s[1][BN / 8][4];
    zero(s[0]);
    mma_regs_by_rows<1, BN, D, T>(s, qf, s_k + stage * BN * D);
#pragma unroll
    for (int n = 0; n < BN / 8; n++) {
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int key = n0 + n * 8 + 2 * (lane & 3) + (e & 1);
        const int distance = query[e >> 1] + offset - key;
        float x = fmaf(s[0][n][e], half_scale, half_bias);
        if (ALIBI) x = fmaf(-half_slope[e >> 1], fabsf(static_cast<float>(distance)), x);
        float w = ACCURATE ? __fdividef(1.0f, 1.0f + __expf(-2.0f * x)) : fmaf(0.5f, tanh_approx(x), 0.5f);
        if (CAUSAL && distance < 0) w = 0.0f;
        s[0][n][e] = w;
      }
    }
    uint32_t pf[1][BN / 16][4];
    to_a_fragments<BN, T>(pf[0], s[0]);
    mma_regs_by_tile<1, BN, D, T>(acc, pf, s_v + stage * BN * D);
    if (next < k1) cp_async_wait_all();
    __syncwarp();  // every lane's reads of this stage precede the next iteration's loads into it
  }

  // Sum the warps' 16 × D blocks in shared memory (after the Q block, over the key tiles).
  __syncthreads();
  float* sums = reinterpret_cast<float*>(s_q + DECODE_ROWS * D);  // [WARPS][16][D]
#pragma unroll
  for (int n = 0; n < D / 8; n++) {
#pragma unroll
    for (int e = 0; e < 4; e++) {
      const int r = (lane >> 2) + 8 * (e >> 1), c = n * 8 + 2 * (lane & 3) + (e & 1);
      sums[(warp * DECODE_ROWS + r) * D + c] = acc[0][n][e];
    }
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < DECODE_ROWS * CHUNKS; idx += DECODE_THREADS) {
    const int r = idx / CHUNKS, c = (idx % CHUNKS) * 8;
    const DecodeRow row = decode_row(p, hk, rg, r);
    if (!row.valid || c >= HD) continue;
    float total[8];
#pragma unroll
    for (int j = 0; j < 8; j++) {
      total[j] = 0.0f;
#pragma unroll
      for (int w = 0; w < DECODE_WARPS; w++) total[j] += sums[(w * DECODE_ROWS + r) * D + c + j];
    }
    if (partial == nullptr) {
      uint4 packed;
      packed.x = pack2<T>(total[0], total[1]);
      packed.y = pack2<T>(total[2], total[3]);
      packed.z = pack2<T>(total[4], total[5]);
      packed.w = pack2<T>(total[6], total[7]);
      *reinterpret_cast<uint4*>(o + b * p.o_batch + row.query * p.o_row + row.head * p.o_head + c) = packed;
    } else {
      float* dst =
          partial + (((static_cast<int64_t>(split) * p.batch + b) * p.heads + row.head) * p.nq + row.query) * HD + c;
      reinterpret_cast<float4*>(dst)[0] = make_float4(total[0], total[1], total[2], total[3]);
      reinterpret_cast<float4*>(dst)[1] = make_float4(total[4], total[5], total[6], total[7]);
    }
  }
}

// o = Σ over splits of the partial sums: one thread per 8 output elements.
template <typename T, int HD>
__global__ void decode_combine_kernel(Problem p, const float* __restrict__ partial, int splits, T* __restrict__ o) {
  const int64_t slice = static_cast<int64_t>(p.batch) * p.heads * p.nq * HD;  // one split's floats
  const int64_t idx = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * 8;
  if (idx >= slice) return;
  const int c = static_cast<int>(idx % HD);
  const int64_t row = idx / HD;  // (b, h, i)
  const int i = static_cast<int>(row % p.nq), h = static_cast<int>(row / p.nq % p.heads);
  const int b = static_cast<int>(row / (static_cast<int64_t>(p.nq) * p.heads));
  float total[8] = {};
  for (int s = 0; s < splits; s++) {
    const float4* src = reinterpret_cast<const float4*>(partial + s * slice + idx);
    const float4 lo = src[0], hi = src[1];
    total[0] += lo.x, total[1] += lo.y, total[2] += lo.z, total[3] += lo.w;
    total[4] += hi.x, total[5] += hi.y, total[6] += hi.z, total[7] += hi.w;
  }
  uint4 packed;
  packed.x = pack2<T>(total[0], total[1]);
  packed.y = pack2<T>(total[2], total[3]);
  packed.z = pack2<T>(total[4], total[5]);
  packed.w = pack2<T>(total[6], total[7]);
  *reinterpret_cast<uint4*>(o + b * p.o_batch + i * p.o_row + h * p.o_head + c) = packed;
}

// The partial sums come from a pool of this library that keeps its memory between calls
// (stream-ordered, so the allocation costs no synchronisation).
static int partial_buffer(int device, size_t bytes, cudaStream_t stream, float** out) {
  static std::mutex mutex;
  static cudaMemPool_t pools[64] = {};
  if (device < 0 || device >= 64) return fail(AZ_RANGE, "sigmoid_decode", "device %d out of range", device);
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (pools[device] == nullptr) {
      cudaMemPoolProps props = {};
      props.allocType = cudaMemAllocationTypePinned;
      props.location.type = cudaMemLocationTypeDevice;
      props.location.id = device;
      SIG_CUDA_CHECK("sigmoid_decode", cudaMemPoolCreate(&pools[device], &props));
      uint64_t keep = UINT64_MAX;
      SIG_CUDA_CHECK("sigmoid_decode", cudaMemPoolSetAttribute(pools[device], cudaMemPoolAttrReleaseThreshold, &keep));
    }
  }
  SIG_CUDA_CHECK("sigmoid_decode", cudaMallocFromPoolAsync(reinterpret_cast<void**>(out), bytes, pools[device], stream));
  return AZ_OK;
}

// Keys per split for `ctas` CTAs per split (batch × KV heads × row blocks) over nk keys on `sms`
// SMs that each hold `per_sm` of these CTAs at once (the occupancy of the instantiated kernel);
// chunks are whole rounds of the warps' tiles and at least min_chunk keys.
//
// Rounds rule: the split count minimising rounds × (chunk + min_chunk), rounds = how many times the
// CTAs fill the slots. A CTA's fixed cost (Q load, pipeline fill, the reduction of its warps, the
// partial-sum write) is counted as min_chunk keys: runs 5 and 7 at d 128 (1 CTA per SM) put it at
// ≈ 6 µs, the time of ≈ 270 keys. One wave (run 7's rule) rounded 32 CTAs × 5 splits = 160 up to 2
// rounds on 132 slots (8-13 % slower than run 5's 16 splits); this rule takes 4 splits (one
// round) there. Ties go to fewer splits. Run split1 (same process, 32 decode shapes): 0.85–1.00× the
// time of run 7's rule, 0.85–1.01× run 5's (bench/flash_sigmoid_decode.md).
static int split_chunk(int nk, int64_t ctas, int sms, int per_sm, int round, int min_chunk) {
  const int64_t slots = static_cast<int64_t>(sms) * max(per_sm, 1);
  const auto chunk_of = [&](int64_t splits) {
    const int per_split = static_cast<int>((nk + splits - 1) / splits);
    return max(min_chunk, (per_split + round - 1) / round * round);
  };
  // more splits than 4 rounds' worth cannot pay: each round adds a CTA's fixed cost to the path
  const int64_t most = std::min<int64_t>((nk + min_chunk - 1) / min_chunk, std::max<int64_t>(1, 4 * slots / ctas));
  int best = chunk_of(1);
  int64_t best_cost = INT64_MAX;
  for (int64_t s = 1; s <= most; s++) {
    const int chunk = chunk_of(s);
    const int64_t splits = (nk + chunk - 1) / chunk;
    const int64_t cost = (ctas * splits + slots - 1) / slots * (chunk + min_chunk);
    if (cost < best_cost) best = chunk, best_cost = cost;
  }
  return best;
}

template <typename T, int HD, bool CAUSAL, bool ALIBI>
int launch_decode(const Problem& p, uint64_t q, uint64_t k, uint64_t v, uint64_t o, cudaStream_t stream) {
  const char* op = "sigmoid_decode";
  constexpr int D = tile_dim(HD);
  constexpr int SMEM = decode_smem_bytes<D>();
  auto kernel = decode_kernel<T, HD, CAUSAL, ALIBI>;
  SIG_CUDA_CHECK(op, cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
  int device = 0, sms = 0;
  SIG_CUDA_CHECK(op, cudaGetDevice(&device));
  SIG_CUDA_CHECK(op, cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  const int row_groups = ((p.heads / p.kv_heads) * p.nq + DECODE_ROWS - 1) / DECODE_ROWS;
  const int64_t ctas = static_cast<int64_t>(p.batch) * p.kv_heads * row_groups;
  if (static_cast<int64_t>(p.kv_heads) * row_groups > 65535) {
    return fail(AZ_RANGE, op, "kv_heads %d × %d query row blocks exceeds the grid limit 65535", p.kv_heads,
                row_groups);
  }
  int per_sm = 0;
  SIG_CUDA_CHECK(op, cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, DECODE_THREADS, SMEM));
  const int chunk = split_chunk(p.nk, ctas, sms, per_sm, DECODE_WARPS * DecodeTile<D>::BN, DecodeTile<D>::MIN_CHUNK);
  const int splits = (p.nk + chunk - 1) / chunk;
  const dim3 grid(splits, p.kv_heads * row_groups, p.batch);
  if (splits == 1) {
    kernel<<<grid, DECODE_THREADS, SMEM, stream>>>(p, az_ptr<const T>(q), az_ptr<const T>(k), az_ptr<const T>(v),
                                                   az_ptr<T>(o), nullptr, chunk);
    SIG_CUDA_CHECK(op, cudaGetLastError());
    return AZ_OK;
  }
  const int64_t slice = static_cast<int64_t>(p.batch) * p.heads * p.nq * HD;
  float* partial = nullptr;
  SIG_CHECK(partial_buffer(device, splits * slice * sizeof(float), stream, &partial));
  kernel<<<grid, DECODE_THREADS, SMEM, stream>>>(p, az_ptr<const T>(q), az_ptr<const T>(k), az_ptr<const T>(v),
                                                 az_ptr<T>(o), partial, chunk);
  const cudaError_t launched = cudaGetLastError();
  if (launched == cudaSuccess) {
    const int64_t threads = slice / 8;
    decode_combine_kernel<T, HD><<<static_cast<unsigned>((threads + 255) / 256), 256, 0, stream>>>(p, partial, splits,
                                                                                                   az_ptr<T>(o));
  }
  const cudaError_t combined = cudaGetLastError();
  SIG_CUDA_CHECK(op, cudaFreeAsync(partial, stream));
  SIG_CUDA_CHECK(op, launched);
  SIG_CUDA_CHECK(op, combined);
  return AZ_OK;
}

// The decode launch of every variant, for dispatch_variant.
struct DecodeForward {
  const Problem& p;
  uint64_t q, k, v, o;
  cudaStream_t stream;
  template <typename T, int D, bool CAUSAL, bool ALIBI>
  int run() const {
    return launch_decode<T, D, CAUSAL, ALIBI>(p, q, k, v, o, stream);
  }
};

int forward_decode(const Problem& p, int dtype, int head_dim, bool causal, uint64_t q, uint64_t k, uint64_t v,
                   uint64_t o, cudaStream_t stream) {
  return dispatch_variant<TiledHeadDims>(dtype, head_dim, causal, p.slopes != nullptr,
                                         DecodeForward{p, q, k, v, o, stream});
}

}  // namespace flash_sigmoid
