// Elementwise ops: binary with broadcasting, affine, unary functions, GELU (erf and tanh forms),
// softplus and dtype casts. Math runs in f32; the result is rounded once to the storage type.
// Contiguous data moves in 16-byte packs; binary ops collapse their broadcast to one of three
// operand patterns (full, a row [C] repeated over [R, C], a scalar) before falling back to
// per-element index math over the collapsed dims.
#include <math.h>

#include "_pack.h"
#include "_runtime.h"

namespace {

constexpr int kMaxDims = 8;
constexpr int kThreads = 256;

enum BinaryOp { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3 };
enum UnaryOp { kExp = 0, kSigmoid = 1, kRelu = 2, kTanh = 3, kSilu = 4, kNeg = 5, kSqrt = 6, kRsqrt = 7, kAbs = 8,
               kLog = 9, kCos = 10, kSin = 11 };

// How a binary operand maps onto the (collapsed) output: element i, i mod cols, or element 0.
enum Operand { kFull = 0, kRow = 1, kScalar = 2 };

template <int V>
__device__ __forceinline__ void apply_binary(int op, const float (&a)[V], const float (&b)[V], float (&out)[V]) {
  switch (op) {  // uniform across the grid: one branch per pack
    case kAdd:
#pragma unroll
      for (int k = 0; k < V; k++) out[k] = a[k] + b[k];
      break;
    case kSub:
#pragma unroll
      for (int k = 0; k < V; k++) out[k] = a[k] - b[k];
      break;
    case kMul:
#pragma unroll
      for (int k = 0; k < V; k++) out[k] = a[k] * b[k];
      break;
    default:
#pragma unroll
      for (int k = 0; k < V; k++) out[k] = a[k] / b[k];
      break;
  }
}

template <int M, int V, typename T>
__device__ __forceinline__ void load_operand(const T* p, int64_t i, int64_t cols, float (&out)[V]) {
  if constexpr (M == kFull) {
    az_load_pack<V>(p, i, out);
  } else if constexpr (M == kRow) {
    az_load_pack<V>(p, i % cols, out);
  } else {
    const float s = az_to_f32(p[0]);
#pragma unroll
    for (int k = 0; k < V; k++) out[k] = s;
  }
}

// out = a op b over n elements, each operand in pattern MA / MB; packs of V (V divides cols for
// row operands and every streamed pointer is pack-aligned), then the tail one by one.
template <typename T, int V, int MA, int MB>
__global__ void binary_pattern(int op, const T* a, const T* b, T* out, int64_t n, int64_t cols) {
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  const int64_t first = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  const int64_t packs = n / V;
  for (int64_t p = first; p < packs; p += step) {
    float x[V], y[V], z[V];
    load_operand<MA, V>(a, p * V, cols, x);
    load_operand<MB, V>(b, p * V, cols, y);
    apply_binary<V>(op, x, y, z);
    az_store_pack<V>(out, p * V, z);
  }
  for (int64_t i = packs * V + first; i < n; i += step) {
    float x[1], y[1], z[1];
    load_operand<MA, 1>(a, i, cols, x);
    load_operand<MB, 1>(b, i, cols, y);
    apply_binary<1>(op, x, y, z);
    az_store_pack<1>(out, i, z);
  }
}

// Output shape and the element strides of both inputs over it (0 on broadcast dims), collapsed.
template <typename I>
struct Broadcast {
  int ndim;
  I shape[kMaxDims];
  I a_stride[kMaxDims];
  I b_stride[kMaxDims];
};

// The general case, with 32-bit index math (I = uint32_t) whenever the sizes allow it.
template <typename T, typename I>
__global__ void binary_broadcast(int op, const T* a, const T* b, T* out, I n, Broadcast<I> bc) {
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
    I rest = i, ia = 0, ib = 0;
    for (int d = bc.ndim - 1; d >= 0; d--) {
      const I coord = rest % bc.shape[d];
      rest /= bc.shape[d];
      ia += coord * bc.a_stride[d];
      ib += coord * bc.b_stride[d];
    }
    float x[1] = {az_to_f32(a[ia])}, y[1] = {az_to_f32(b[ib])}, z[1];
    apply_binary<1>(op, x, y, z);
    out[i] = az_from_f32<T>(z[0]);
  }
}

template <typename T, int V>
void launch_pattern(int pattern, int op, const T* a, const T* b, T* out, int64_t n, int64_t cols) {
  const unsigned blocks = az_blocks(n / V > 0 ? n / V : 1, kThreads);
  cudaStream_t s = az_stream();
  switch (pattern) {
    case kFull * 3 + kFull:
      binary_pattern<T, V, kFull, kFull><<<blocks, kThreads, 0, s>>>(op, a, b, out, n, cols);
      break;
    case kFull * 3 + kRow:
      binary_pattern<T, V, kFull, kRow><<<blocks, kThreads, 0, s>>>(op, a, b, out, n, cols);
      break;
    case kRow * 3 + kFull:
      binary_pattern<T, V, kRow, kFull><<<blocks, kThreads, 0, s>>>(op, a, b, out, n, cols);
      break;
    case kFull * 3 + kScalar:
      binary_pattern<T, V, kFull, kScalar><<<blocks, kThreads, 0, s>>>(op, a, b, out, n, cols);
      break;
    default:  // kScalar * 3 + kFull
      binary_pattern<T, V, kScalar, kFull><<<blocks, kThreads, 0, s>>>(op, a, b, out, n, cols);
      break;
  }
}

// The pattern of an operand with collapsed strides over a collapsed shape of 1 or 2 dims, or -1.
int operand_pattern(int ndim, const int64_t* shape, const int64_t* stride) {
  if (ndim == 1) return stride[0] == 1 ? kFull : (stride[0] == 0 ? kScalar : -1);
  if (stride[1] == 1) return stride[0] == shape[1] ? kFull : (stride[0] == 0 ? kRow : -1);
  return stride[0] == 0 && stride[1] == 0 ? kScalar : -1;
}

template <typename T>
void launch_binary(int op, int ndim, const int64_t* shape, const int64_t* sa, const int64_t* sb, const T* a,
                   const T* b, T* out, int64_t n) {
  const int pa = ndim == 0 ? kFull : (ndim <= 2 ? operand_pattern(ndim, shape, sa) : -1);
  const int pb = ndim == 0 ? kFull : (ndim <= 2 ? operand_pattern(ndim, shape, sb) : -1);
  // a row or scalar operand needs a full one beside it (the output's dims come from somewhere)
  if (pa >= 0 && pb >= 0 && (pa == kFull || pb == kFull)) {
    const int64_t cols = ndim == 2 ? shape[1] : n;
    constexpr int V = az_vec16<T>();
    const bool rows_fit = (pa != kRow && pb != kRow) || cols % V == 0;
    const bool aligned = az_aligned(16, pa == kScalar ? nullptr : a, pb == kScalar ? nullptr : b, out);
    if (rows_fit && aligned) {
      launch_pattern<T, V>(pa * 3 + pb, op, a, b, out, n, cols);
    } else {
      launch_pattern<T, 1>(pa * 3 + pb, op, a, b, out, n, cols);
    }
    return;
  }
  const unsigned blocks = az_blocks(n, kThreads);
  if (n <= (int64_t)UINT32_MAX / 2) {
    Broadcast<uint32_t> bc{};
    bc.ndim = ndim;
    for (int d = 0; d < ndim; d++) {
      bc.shape[d] = (uint32_t)shape[d];
      bc.a_stride[d] = (uint32_t)sa[d];
      bc.b_stride[d] = (uint32_t)sb[d];
    }
    binary_broadcast<T, uint32_t><<<blocks, kThreads, 0, az_stream()>>>(op, a, b, out, (uint32_t)n, bc);
  } else {
    Broadcast<int64_t> bc{};
    bc.ndim = ndim;
    for (int d = 0; d < ndim; d++) {
      bc.shape[d] = shape[d];
      bc.a_stride[d] = sa[d];
      bc.b_stride[d] = sb[d];
    }
    binary_broadcast<T, int64_t><<<blocks, kThreads, 0, az_stream()>>>(op, a, b, out, n, bc);
  }
}

__device__ __forceinline__ float apply_unary(int op, float x) {
  switch (op) {
    case kExp:
      return expf(x);
    case kSigmoid:
      return 1.0f / (1.0f + expf(-x));
    case kRelu:
      return x > 0.0f ? x : (x != x ? x : 0.0f);  // NaN stays NaN, as in PyTorch
    case kTanh:
      return tanhf(x);
    case kSilu:
      return x / (1.0f + expf(-x));
    case kNeg:
      return -x;
    case kSqrt:
      return sqrtf(x);
    case kRsqrt:
      return rsqrtf(x);
    case kAbs:
      return fabsf(x);
    case kLog:
      return logf(x);
    case kCos:
      return cosf(x);
    default:
      return sinf(x);
  }
}

struct Unary {
  int op;
  __device__ float operator()(float x) const { return apply_unary(op, x); }
};

struct Affine {
  float alpha, beta;
  __device__ float operator()(float x) const { return x * alpha + beta; }
};

struct Gelu {
  bool tanh_form;
  __device__ float operator()(float v) const {
    if (tanh_form) {
      const float k = 0.7978845608028654f;  // sqrt(2/pi)
      return 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
    }
    return 0.5f * v * (1.0f + erff(v * 0.7071067811865476f));
  }
};

struct Softplus {
  float beta, threshold;
  __device__ float operator()(float v) const {
    const float bx = v * beta;
    return bx > threshold ? v : log1pf(expf(bx)) / beta;
  }
};

// The conversion of a cast: values pass through f32 unchanged.
struct Identity {
  __device__ float operator()(float v) const { return v; }
};

// out[i] = f(x[i]) in packs of V, then the tail.
template <typename S, typename D, int V, typename F>
__global__ void map_kernel(const S* x, D* out, int64_t n, F f) {
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  const int64_t first = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  const int64_t packs = n / V;
  for (int64_t p = first; p < packs; p += step) {
    float v[V];
    az_load_pack<V>(x, p * V, v);
#pragma unroll
    for (int k = 0; k < V; k++) v[k] = f(v[k]);
    az_store_pack<V>(out, p * V, v);
  }
  for (int64_t i = packs * V + first; i < n; i += step) out[i] = az_from_f32<D>(f(az_to_f32(x[i])));
}

// Packs as wide as the wider of the two types allows in 16 bytes, when both pointers align to them.
template <typename S, typename D, typename F>
void launch_map(const S* x, D* out, int64_t n, F f) {
  constexpr int V = sizeof(S) > sizeof(D) ? az_vec16<S>() : az_vec16<D>();
  if (az_aligned(V * (int)sizeof(S), x) && az_aligned(V * (int)sizeof(D), out)) {
    map_kernel<S, D, V><<<az_blocks(n / V > 0 ? n / V : 1, kThreads), kThreads, 0, az_stream()>>>(x, out, n, f);
  } else {
    map_kernel<S, D, 1><<<az_blocks(n, kThreads), kThreads, 0, az_stream()>>>(x, out, n, f);
  }
}

template <typename S>
int launch_cast(int dst_dtype, uint64_t x, uint64_t out, int64_t n) {
  switch (dst_dtype) {
    case AZ_F32:
      launch_map(az_ptr<S>(x), az_ptr<float>(out), n, Identity{});
      break;
    case AZ_F16:
      launch_map(az_ptr<S>(x), az_ptr<__half>(out), n, Identity{});
      break;
    case AZ_BF16:
      launch_map(az_ptr<S>(x), az_ptr<__nv_bfloat16>(out), n, Identity{});
      break;
    default:
      return az_fail(AZ_INVALID, "cast", "unsupported target dtype code %d", dst_dtype);
  }
  AZ_LAUNCH_CHECK("cast");
  return AZ_OK;
}

}  // namespace

/**
 * out = a op b. `a_strides`/`b_strides` are element strides over `out_shape` (0 where a dim is
 * broadcast). Size-1 dims are dropped and dims contiguous in both operands merged first, so equal
 * shapes, a bias row over the last dim and a scalar take the packed pattern kernels.
 */
AZ_API int attnzoo_binary(int op, int dtype, int ndim, const int64_t* out_shape, uint64_t a, const int64_t* a_strides,
                          uint64_t b, const int64_t* b_strides, uint64_t out) {
  AZ_REQUIRE_FLOAT("binary", dtype);
  if (op < kAdd || op > kDiv) return az_fail(AZ_INVALID, "binary", "unknown op code %d", op);
  if (ndim < 0 || ndim > kMaxDims) return az_fail(AZ_INVALID, "binary", "%d dims (at most %d)", ndim, kMaxDims);
  int64_t shape[kMaxDims], sa[kMaxDims], sb[kMaxDims];
  int nd = 0;
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) {
    n *= out_shape[d];
    if (out_shape[d] == 1) continue;
    const int64_t size = out_shape[d];
    if (nd > 0 && sa[nd - 1] == a_strides[d] * size && sb[nd - 1] == b_strides[d] * size) {
      shape[nd - 1] *= size;  // contiguous across both dims in both operands: one dim
      sa[nd - 1] = a_strides[d];
      sb[nd - 1] = b_strides[d];
    } else {
      shape[nd] = size;
      sa[nd] = a_strides[d];
      sb[nd] = b_strides[d];
      nd++;
    }
  }
  if (n == 0) return AZ_OK;
  AZ_DISPATCH_FLOAT(dtype, launch_binary<scalar_t>(op, nd, shape, sa, sb, az_ptr<scalar_t>(a), az_ptr<scalar_t>(b),
                                                   az_ptr<scalar_t>(out), n));
  AZ_LAUNCH_CHECK("binary");
  return AZ_OK;
}

/** out = f(x) for the unary op code (exp, sigmoid, relu, tanh, silu, neg, sqrt, rsqrt, abs, log, cos,
 * sin). */
AZ_API int attnzoo_unary(int op, int dtype, uint64_t x, uint64_t out, int64_t n) {
  AZ_REQUIRE_FLOAT("unary", dtype);
  if (op < kExp || op > kSin) return az_fail(AZ_INVALID, "unary", "unknown op code %d", op);
  if (n == 0) return AZ_OK;
  AZ_DISPATCH_FLOAT(dtype, launch_map(az_ptr<scalar_t>(x), az_ptr<scalar_t>(out), n, Unary{op}));
  AZ_LAUNCH_CHECK("unary");
  return AZ_OK;
}

/** out = x * alpha + beta. */
AZ_API int attnzoo_affine(int dtype, uint64_t x, uint64_t out, int64_t n, float alpha, float beta) {
  AZ_REQUIRE_FLOAT("affine", dtype);
  if (n == 0) return AZ_OK;
  AZ_DISPATCH_FLOAT(dtype, launch_map(az_ptr<scalar_t>(x), az_ptr<scalar_t>(out), n, Affine{alpha, beta}));
  AZ_LAUNCH_CHECK("affine");
  return AZ_OK;
}

/** GELU: exact erf form, or the tanh approximation when `tanh_form` is 1. */
AZ_API int attnzoo_gelu(int dtype, int tanh_form, uint64_t x, uint64_t out, int64_t n) {
  AZ_REQUIRE_FLOAT("gelu", dtype);
  if (n == 0) return AZ_OK;
  AZ_DISPATCH_FLOAT(dtype, launch_map(az_ptr<scalar_t>(x), az_ptr<scalar_t>(out), n, Gelu{tanh_form != 0}));
  AZ_LAUNCH_CHECK("gelu");
  return AZ_OK;
}

/** softplus(x) = log1p(exp(βx))/β, and x itself where βx > threshold. */
AZ_API int attnzoo_softplus(int dtype, uint64_t x, uint64_t out, int64_t n, float beta, float threshold) {
  AZ_REQUIRE_FLOAT("softplus", dtype);
  if (n == 0) return AZ_OK;
  AZ_DISPATCH_FLOAT(dtype, launch_map(az_ptr<scalar_t>(x), az_ptr<scalar_t>(out), n, Softplus{beta, threshold}));
  AZ_LAUNCH_CHECK("softplus");
  return AZ_OK;
}

/** Converts `n` elements between any two of f32, f16, bf16 and i32 (round to nearest even). */
AZ_API int attnzoo_cast(int src_dtype, int dst_dtype, uint64_t x, uint64_t out, int64_t n) {
  if (az_dtype_size(src_dtype) == 0) return az_fail(AZ_INVALID, "cast", "unsupported source dtype code %d", src_dtype);
  if (az_dtype_size(dst_dtype) == 0) return az_fail(AZ_INVALID, "cast", "unsupported target dtype code %d", dst_dtype);
  if (n == 0) return AZ_OK;
  if (src_dtype == dst_dtype) {
    AZ_CUDA_CHECK("cast", cudaMemcpyAsync(az_ptr<void>(out), az_ptr<void>(x), n * az_dtype_size(src_dtype),
                                          cudaMemcpyDeviceToDevice, az_stream()));
    return AZ_OK;
  }
  if (dst_dtype == AZ_I32) {
    AZ_DISPATCH_FLOAT(src_dtype, launch_map(az_ptr<scalar_t>(x), az_ptr<int32_t>(out), n, Identity{}));
    AZ_LAUNCH_CHECK("cast");
    return AZ_OK;
  }
  switch (src_dtype) {
    case AZ_F32:
      return launch_cast<float>(dst_dtype, x, out, n);
    case AZ_F16:
      return launch_cast<__half>(dst_dtype, x, out, n);
    case AZ_BF16:
      return launch_cast<__nv_bfloat16>(dst_dtype, x, out, n);
    default:
      return launch_cast<int32_t>(dst_dtype, x, out, n);
  }
}
