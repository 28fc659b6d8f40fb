// Convolutions, NCHW, f32 accumulation: ungrouped conv2d (patch embeddings included) gathers each
// output position's receptive field into a row (im2col) and multiplies the rows by the weight
// through cuBLASLt with a fused bias; depthwise convs (groups = C_in = C_out, square 3/5/7
// kernels) take an unrolled path; anything else (other groups) runs a direct kernel. Also the
// causal depthwise conv1d of gated linear layers.
#include "_gemm.h"
#include "_runtime.h"

namespace {

constexpr int64_t kMaxIm2colBytes = 1LL << 30;

struct ConvGeometry {
  int64_t batch, cin, h, w, cout, kh, kw, sh, sw, ph, pw, groups, oh, ow;
};

template <typename T>
__global__ void conv2d_direct(const T* x, const T* weight, const T* bias, T* out, ConvGeometry g) {
  const int64_t total = g.batch * g.cout * g.oh * g.ow;
  const int64_t cin_g = g.cin / g.groups, cout_g = g.cout / g.groups;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t ox = i % g.ow, oy = (i / g.ow) % g.oh, co = (i / (g.ow * g.oh)) % g.cout,
                  b = i / (g.ow * g.oh * g.cout);
    const int64_t c0 = (co / cout_g) * cin_g;
    float acc = bias != nullptr ? az_load(bias, co) : 0.0f;
    for (int64_t ci = 0; ci < cin_g; ci++) {
      const T* plane = x + ((b * g.cin) + c0 + ci) * g.h * g.w;
      const T* kernel = weight + (co * cin_g + ci) * g.kh * g.kw;
      for (int64_t ky = 0; ky < g.kh; ky++) {
        const int64_t y = oy * g.sh - g.ph + ky;
        if (y < 0 || y >= g.h) continue;
        for (int64_t kx = 0; kx < g.kw; kx++) {
          const int64_t xx = ox * g.sw - g.pw + kx;
          if (xx < 0 || xx >= g.w) continue;
          acc += az_load(plane, y * g.w + xx) * az_load(kernel, ky * g.kw + kx);
        }
      }
    }
    az_store(out, i, acc);
  }
}

// One output per thread; the K×K loop is unrolled and the weights are read once into registers.
template <typename T, int K>
__global__ void conv2d_depthwise(const T* x, const T* weight, const T* bias, T* out, ConvGeometry g) {
  const int64_t total = g.batch * g.cout * g.oh * g.ow;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t ox = i % g.ow, oy = (i / g.ow) % g.oh, c = (i / (g.ow * g.oh)) % g.cout,
                  b = i / (g.ow * g.oh * g.cout);
    const T* plane = x + (b * g.cin + c) * g.h * g.w;
    float wk[K * K];
#pragma unroll
    for (int j = 0; j < K * K; j++) wk[j] = az_load(weight, c * K * K + j);
    float acc = bias != nullptr ? az_load(bias, c) : 0.0f;
    const int64_t y0 = oy * g.sh - g.ph, x0 = ox * g.sw - g.pw;
#pragma unroll
    for (int ky = 0; ky < K; ky++) {
      const int64_t y = y0 + ky;
      if (y < 0 || y >= g.h) continue;
#pragma unroll
      for (int kx = 0; kx < K; kx++) {
        const int64_t xx = x0 + kx;
        if (xx >= 0 && xx < g.w) acc += az_load(plane, y * g.w + xx) * wk[ky * K + kx];
      }
    }
    az_store(out, i, acc);
  }
}

// rows[(b·oh + oy)·ow + ox, (c·kh + ky)·kw + kx] = x[b, c, oy·sh − ph + ky, ox·sw − pw + kx], zero
// where that falls in the padding
template <typename T>
__global__ void im2col(const T* x, T* rows, ConvGeometry g) {
  const int64_t patch = g.cin * g.kh * g.kw;
  const int64_t total = g.batch * g.oh * g.ow * patch;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t col = i % patch, row = i / patch;
    const int64_t kx = col % g.kw, ky = (col / g.kw) % g.kh, c = col / (g.kw * g.kh);
    const int64_t ox = row % g.ow, oy = (row / g.ow) % g.oh, b = row / (g.ow * g.oh);
    const int64_t y = oy * g.sh - g.ph + ky, xx = ox * g.sw - g.pw + kx;
    rows[i] = (y >= 0 && y < g.h && xx >= 0 && xx < g.w) ? x[((b * g.cin + c) * g.h + y) * g.w + xx] : T{};
  }
}

// out[b, c, p] = tokens[b, p, c]: the GEMM result [B, P, C] back to NCHW.
template <typename T>
__global__ void tokens_to_channels(const T* tokens, T* out, int64_t batch, int64_t positions, int64_t channels) {
  const int64_t total = batch * positions * channels;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t p = i % positions, c = (i / positions) % channels, b = i / (positions * channels);
    out[i] = tokens[(b * positions + p) * channels + c];
  }
}

template <typename T>
int conv2d_gemm(int dtype, const T* x, const T* weight, const T* bias, T* out, const ConvGeometry& g) {
  const int64_t positions = g.oh * g.ow, patch = g.cin * g.kh * g.kw;
  T* rows = nullptr;
  T* tokens = nullptr;
  int status = az_alloc("conv2d", g.batch * positions * patch * sizeof(T), reinterpret_cast<void**>(&rows));
  if (status == AZ_OK) {
    status = az_alloc("conv2d", g.batch * positions * g.cout * sizeof(T), reinterpret_cast<void**>(&tokens));
  }
  if (status == AZ_OK) {
    im2col<T><<<az_blocks(g.batch * positions * patch, 256), 256, 0, az_stream()>>>(x, rows, g);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) status = az_fail(AZ_CUDA, "conv2d", "im2col: %s", cudaGetErrorString(err));
  }
  if (status == AZ_OK) {
    // [B·P, patch] @ weight[C_out, patch]ᵀ + bias
    status = az_gemm("conv2d", dtype, false, true, g.batch * positions, g.cout, patch, 1, rows, 0, weight, 0, tokens, 0,
                     bias, false, 1.0f);
  }
  if (status == AZ_OK) {
    tokens_to_channels<T><<<az_blocks(g.batch * positions * g.cout, 256), 256, 0, az_stream()>>>(tokens, out, g.batch,
                                                                                                 positions, g.cout);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) status = az_fail(AZ_CUDA, "conv2d", "output layout: %s", cudaGetErrorString(err));
  }
  // stream order keeps the scratch alive for the queued kernels that still read it
  if (rows != nullptr) az_release(rows);
  if (tokens != nullptr) az_release(tokens);
  return status;
}

template <typename T>
int launch_conv2d(int dtype, const T* x, const T* weight, const T* bias, T* out, const ConvGeometry& g) {
  const int64_t total = g.batch * g.cout * g.oh * g.ow;
  const unsigned blocks = az_blocks(total, 256);
  const bool depthwise = g.groups == g.cin && g.cout == g.cin && g.kh == g.kw;
  // the im2col rows cost kh·kw times the input; past kMaxIm2colBytes the direct kernel saves the memory
  const int64_t im2col_bytes = g.batch * g.oh * g.ow * g.cin * g.kh * g.kw * (int64_t)sizeof(T);
  if (g.groups == 1 && im2col_bytes <= kMaxIm2colBytes) return conv2d_gemm<T>(dtype, x, weight, bias, out, g);
  if (depthwise && g.kh == 3) {
    conv2d_depthwise<T, 3><<<blocks, 256, 0, az_stream()>>>(x, weight, bias, out, g);
  } else if (depthwise && g.kh == 5) {
    conv2d_depthwise<T, 5><<<blocks, 256, 0, az_stream()>>>(x, weight, bias, out, g);
  } else if (depthwise && g.kh == 7) {
    conv2d_depthwise<T, 7><<<blocks, 256, 0, az_stream()>>>(x, weight, bias, out, g);
  } else {
    conv2d_direct<T><<<blocks, 256, 0, az_stream()>>>(x, weight, bias, out, g);
  }
  AZ_LAUNCH_CHECK("conv2d");
  return AZ_OK;
}

template <typename T>
__global__ void causal_conv1d_kernel(const T* x, const T* weight, const T* bias, T* out, int64_t batch,
                                     int64_t channels, int64_t length, int64_t taps) {
  const int64_t total = batch * channels * length;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t t = i % length, c = (i / length) % channels;
    const T* row = x + (i - t);
    float acc = bias != nullptr ? az_load(bias, c) : 0.0f;
    // tap j sees x[t − (taps − 1) + j]; taps reaching before the start read the zero padding
    for (int64_t j = 0; j < taps; j++) {
      const int64_t src = t - (taps - 1) + j;
      if (src >= 0) acc += az_load(row, src) * az_load(weight, c * taps + j);
    }
    az_store(out, i, acc);
  }
}

}  // namespace

/**
 * 2-D convolution of x [B, C_in, H, W] with weight [C_out, C_in/groups, kh, kw] (bias [C_out] or
 * 0), stride (sh, sw), zero padding (ph, pw): out [B, C_out, oh, ow]. `geometry` holds
 * B, C_in, H, W, C_out, kh, kw, sh, sw, ph, pw, groups.
 */
AZ_API int attnzoo_conv2d(int dtype, uint64_t x, uint64_t weight, uint64_t bias, uint64_t out,
                          const int64_t* geometry) {
  AZ_REQUIRE_FLOAT("conv2d", dtype);
  ConvGeometry g{geometry[0], geometry[1], geometry[2], geometry[3],  geometry[4],  geometry[5], geometry[6],
                 geometry[7], geometry[8], geometry[9], geometry[10], geometry[11], 0,           0};
  if (g.groups <= 0 || g.cin % g.groups != 0 || g.cout % g.groups != 0 || g.kh <= 0 || g.kw <= 0 || g.sh <= 0 ||
      g.sw <= 0 || g.ph < 0 || g.pw < 0) {
    return az_fail(AZ_INVALID, "conv2d", "bad geometry C_in=%lld C_out=%lld groups=%lld kernel %lldx%lld",
                   (long long)g.cin, (long long)g.cout, (long long)g.groups, (long long)g.kh, (long long)g.kw);
  }
  g.oh = (g.h + 2 * g.ph - g.kh) / g.sh + 1;
  g.ow = (g.w + 2 * g.pw - g.kw) / g.sw + 1;
  if (g.h + 2 * g.ph < g.kh || g.w + 2 * g.pw < g.kw)
    return az_fail(AZ_INVALID, "conv2d", "kernel larger than padded input");
  if (g.batch * g.cout * g.oh * g.ow == 0) return AZ_OK;
  AZ_DISPATCH_FLOAT(dtype,
                    return launch_conv2d<scalar_t>(dtype, az_ptr<const scalar_t>(x), az_ptr<const scalar_t>(weight),
                                                   az_ptr<const scalar_t>(bias), az_ptr<scalar_t>(out), g));
  return AZ_OK;
}

/** Causal depthwise conv1d: x [B, C, N], weight [C, 1, K], bias [C] or 0, left padding K − 1. */
AZ_API int attnzoo_causal_conv1d(int dtype, uint64_t x, uint64_t weight, uint64_t bias, uint64_t out, int64_t batch,
                                 int64_t channels, int64_t length, int64_t taps) {
  AZ_REQUIRE_FLOAT("causal_conv1d", dtype);
  if (batch < 0 || channels < 0 || length < 0 || taps <= 0) return az_fail(AZ_INVALID, "causal_conv1d", "bad extents");
  const int64_t total = batch * channels * length;
  if (total == 0) return AZ_OK;
  AZ_DISPATCH_FLOAT(dtype, causal_conv1d_kernel<scalar_t><<<az_blocks(total, 256), 256, 0, az_stream()>>>(
                               az_ptr<scalar_t>(x), az_ptr<scalar_t>(weight), az_ptr<scalar_t>(bias),
                               az_ptr<scalar_t>(out), batch, channels, length, taps));
  AZ_LAUNCH_CHECK("causal_conv1d");
  return AZ_OK;
}
