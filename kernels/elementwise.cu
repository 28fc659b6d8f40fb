// Elementwise ops: binary with broadcasting, affine, unary functions, GELU (erf and tanh forms),
// softplus and dtype casts. Math runs in f32; the result is rounded once to the storage type.
#include <math.h>

#include <type_traits>

#include "_runtime.h"

namespace {

constexpr int kMaxDims = 8;
constexpr int kThreads = 256;

// Output shape and the element strides of both inputs over it (0 on broadcast dims).
struct Broadcast {
  int ndim;
  int64_t shape[kMaxDims];
  int64_t a_stride[kMaxDims];
  int64_t b_stride[kMaxDims];
};

enum BinaryOp { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3 };
enum UnaryOp { kExp = 0, kSigmoid = 1, kRelu = 2, kTanh = 3, kSilu = 4, kNeg = 5, kSqrt = 6, kRsqrt = 7, kAbs = 8,
               kLog = 9, kCos = 10, kSin = 11 };

__device__ __forceinline__ float apply_binary(int op, float a, float b) {
  switch (op) {
    case kAdd:
      return a + b;
    case kSub:
      return a - b;
    case kMul:
      return a * b;
    default:
      return a / b;
  }
}

template <typename T>
__global__ void binary_same_shape(int op, const T* a, const T* b, T* out, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    az_store(out, i, apply_binary(op, az_load(a, i), az_load(b, i)));
  }
}

template <typename T>
__global__ void binary_broadcast(int op, const T* a, const T* b, T* out, int64_t n, Broadcast bc) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t rest = i, ia = 0, ib = 0;
    for (int d = bc.ndim - 1; d >= 0; d--) {
      int64_t coord = rest % bc.shape[d];
      rest /= bc.shape[d];
      ia += coord * bc.a_stride[d];
      ib += coord * bc.b_stride[d];
    }
    az_store(out, i, apply_binary(op, az_load(a, ia), az_load(b, ib)));
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

template <typename T>
__global__ void unary_kernel(int op, const T* x, T* out, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    az_store(out, i, apply_unary(op, az_load(x, i)));
  }
}

template <typename T>
__global__ void affine_kernel(const T* x, T* out, int64_t n, float alpha, float beta) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    az_store(out, i, az_load(x, i) * alpha + beta);
  }
}

template <typename T>
__global__ void gelu_kernel(bool tanh_form, const T* x, T* out, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float v = az_load(x, i), y;
    if (tanh_form) {
      const float k = 0.7978845608028654f;  // sqrt(2/pi)
      y = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
    } else {
      y = 0.5f * v * (1.0f + erff(v * 0.7071067811865476f));
    }
    az_store(out, i, y);
  }
}

template <typename T>
__global__ void softplus_kernel(const T* x, T* out, int64_t n, float beta, float threshold) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float v = az_load(x, i);
    float bx = v * beta;
    az_store(out, i, bx > threshold ? v : log1pf(expf(bx)) / beta);
  }
}

// Cast goes through f32 for the float types; i32 converts by truncation toward zero (PyTorch's rule).
template <typename S, typename D>
__global__ void cast_kernel(const S* x, D* out, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    if constexpr (std::is_same<S, int32_t>::value) {
      az_store(out, i, (float)x[i]);
    } else {
      az_store(out, i, az_load(x, i));
    }
  }
}

template <typename S>
__global__ void cast_to_int_kernel(const S* x, int32_t* out, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    out[i] = (int32_t)az_load(x, i);
  }
}

template <typename S>
int launch_cast(int dst_dtype, uint64_t x, uint64_t out, int64_t n) {
  unsigned blocks = az_blocks(n, kThreads);
  cudaStream_t s = az_stream();
  switch (dst_dtype) {
    case AZ_F32:
      cast_kernel<S, float><<<blocks, kThreads, 0, s>>>(az_ptr<S>(x), az_ptr<float>(out), n);
      break;
    case AZ_F16:
      cast_kernel<S, __half><<<blocks, kThreads, 0, s>>>(az_ptr<S>(x), az_ptr<__half>(out), n);
      break;
    case AZ_BF16:
      cast_kernel<S, __nv_bfloat16><<<blocks, kThreads, 0, s>>>(az_ptr<S>(x), az_ptr<__nv_bfloat16>(out), n);
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
 * broadcast); contiguous equal shapes take a fast path.
 */
AZ_API int attnzoo_binary(int op, int dtype, int ndim, const int64_t* out_shape, uint64_t a, const int64_t* a_strides,
                          uint64_t b, const int64_t* b_strides, uint64_t out) {
  AZ_REQUIRE_FLOAT("binary", dtype);
  if (op < kAdd || op > kDiv) return az_fail(AZ_INVALID, "binary", "unknown op code %d", op);
  if (ndim < 0 || ndim > kMaxDims) return az_fail(AZ_INVALID, "binary", "%d dims (at most %d)", ndim, kMaxDims);
  Broadcast bc{};
  bc.ndim = ndim;
  int64_t n = 1, expect = 1;
  bool same = true;
  for (int d = ndim - 1; d >= 0; d--) {
    bc.shape[d] = out_shape[d];
    bc.a_stride[d] = a_strides[d];
    bc.b_stride[d] = b_strides[d];
    if (out_shape[d] != 1 && (a_strides[d] != expect || b_strides[d] != expect)) same = false;
    expect *= out_shape[d];
    n *= out_shape[d];
  }
  if (n == 0) return AZ_OK;
  unsigned blocks = az_blocks(n, kThreads);
  AZ_DISPATCH_FLOAT(dtype, {
    if (same) {
      binary_same_shape<scalar_t><<<blocks, kThreads, 0, az_stream()>>>(op, az_ptr<scalar_t>(a), az_ptr<scalar_t>(b),
                                                                        az_ptr<scalar_t>(out), n);
    } else {
      binary_broadcast<scalar_t><<<blocks, kThreads, 0, az_stream()>>>(op, az_ptr<scalar_t>(a), az_ptr<scalar_t>(b),
                                                                       az_ptr<scalar_t>(out), n, bc);
    }
  });
  AZ_LAUNCH_CHECK("binary");
  return AZ_OK;
}

/** out = f(x) for the unary op code (exp, sigmoid, relu, tanh, silu, neg, sqrt, rsqrt, abs, log, cos,
 * sin). */
AZ_API int attnzoo_unary(int op, int dtype, uint64_t x, uint64_t out, int64_t n) {
  AZ_REQUIRE_FLOAT("unary", dtype);
  if (op < kExp || op > kSin) return az_fail(AZ_INVALID, "unary", "unknown op code %d", op);
  if (n == 0) return AZ_OK;
  AZ_DISPATCH_FLOAT(dtype, unary_kernel<scalar_t><<<az_blocks(n, kThreads), kThreads, 0, az_stream()>>>(
                               op, az_ptr<scalar_t>(x), az_ptr<scalar_t>(out), n));
  AZ_LAUNCH_CHECK("unary");
  return AZ_OK;
}

/** out = x * alpha + beta. */
AZ_API int attnzoo_affine(int dtype, uint64_t x, uint64_t out, int64_t n, float alpha, float beta) {
  AZ_REQUIRE_FLOAT("affine", dtype);
  if (n == 0) return AZ_OK;
  AZ_DISPATCH_FLOAT(dtype, affine_kernel<scalar_t><<<az_blocks(n, kThreads), kThreads, 0, az_stream()>>>(
                               az_ptr<scalar_t>(x), az_ptr<scalar_t>(out), n, alpha, beta));
  AZ_LAUNCH_CHECK("affine");
  return AZ_OK;
}

/** GELU: exact erf form, or the tanh approximation when `tanh_form` is 1. */
AZ_API int attnzoo_gelu(int dtype, int tanh_form, uint64_t x, uint64_t out, int64_t n) {
  AZ_REQUIRE_FLOAT("gelu", dtype);
  if (n == 0) return AZ_OK;
  AZ_DISPATCH_FLOAT(dtype, gelu_kernel<scalar_t><<<az_blocks(n, kThreads), kThreads, 0, az_stream()>>>(
                               tanh_form != 0, az_ptr<scalar_t>(x), az_ptr<scalar_t>(out), n));
  AZ_LAUNCH_CHECK("gelu");
  return AZ_OK;
}

/** softplus(x) = log1p(exp(βx))/β, and x itself where βx > threshold. */
AZ_API int attnzoo_softplus(int dtype, uint64_t x, uint64_t out, int64_t n, float beta, float threshold) {
  AZ_REQUIRE_FLOAT("softplus", dtype);
  if (n == 0) return AZ_OK;
  AZ_DISPATCH_FLOAT(dtype, softplus_kernel<scalar_t><<<az_blocks(n, kThreads), kThreads, 0, az_stream()>>>(
                               az_ptr<scalar_t>(x), az_ptr<scalar_t>(out), n, beta, threshold));
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
    AZ_DISPATCH_FLOAT(src_dtype, cast_to_int_kernel<scalar_t><<<az_blocks(n, kThreads), kThreads, 0, az_stream()>>>(
                                     az_ptr<scalar_t>(x), az_ptr<int32_t>(out), n));
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
