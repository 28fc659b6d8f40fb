// Resampling of [B·C, H, W] planes: adaptive average pooling with PyTorch's bin edges
// (start = floor(i·H/oh), end = ceil((i+1)·H/oh), bins may overlap) and bilinear resize with
// PyTorch's source index (align_corners: i·(H−1)/(oh−1); otherwise (i+0.5)·H/oh − 0.5, clamped at 0).
#include "_runtime.h"

namespace {

template <typename T>
__global__ void adaptive_avg_pool_kernel(const T* x, T* out, int64_t planes, int64_t h, int64_t w, int64_t oh,
                                         int64_t ow) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < planes * oh * ow;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t ox = i % ow, oy = (i / ow) % oh, p = i / (ow * oh);
    const int64_t y0 = (oy * h) / oh, y1 = ((oy + 1) * h + oh - 1) / oh;
    const int64_t x0 = (ox * w) / ow, x1 = ((ox + 1) * w + ow - 1) / ow;
    float s = 0.0f;
    for (int64_t y = y0; y < y1; y++) {
      for (int64_t xx = x0; xx < x1; xx++) s += az_load(x, (p * h + y) * w + xx);
    }
    az_store(out, i, s / (float)((y1 - y0) * (x1 - x0)));
  }
}

__device__ __forceinline__ float source_index(int64_t dst, int64_t in, int64_t out, bool align_corners) {
  if (align_corners) return out > 1 ? (float)dst * (float)(in - 1) / (float)(out - 1) : 0.0f;
  const float src = ((float)dst + 0.5f) * ((float)in / (float)out) - 0.5f;
  return src < 0.0f ? 0.0f : src;
}

template <typename T>
__global__ void bilinear_kernel(const T* x, T* out, int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow,
                                bool align_corners) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < planes * oh * ow;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t ox = i % ow, oy = (i / ow) % oh, p = i / (ow * oh);
    const float sy = source_index(oy, h, oh, align_corners), sx = source_index(ox, w, ow, align_corners);
    const int64_t y0 = (int64_t)sy, x0 = (int64_t)sx;
    const int64_t y1 = y0 + 1 < h ? y0 + 1 : h - 1, x1 = x0 + 1 < w ? x0 + 1 : w - 1;
    const float ly = sy - (float)y0, lx = sx - (float)x0;
    const T* plane = x + p * h * w;
    const float top = (1.0f - lx) * az_load(plane, y0 * w + x0) + lx * az_load(plane, y0 * w + x1);
    const float bottom = (1.0f - lx) * az_load(plane, y1 * w + x0) + lx * az_load(plane, y1 * w + x1);
    az_store(out, i, (1.0f - ly) * top + ly * bottom);
  }
}

int check_planes(const char* op, int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow) {
  if (planes < 0 || h <= 0 || w <= 0 || oh <= 0 || ow <= 0) {
    return az_fail(AZ_INVALID, op, "bad extents planes=%lld in %lldx%lld out %lldx%lld", (long long)planes,
                   (long long)h, (long long)w, (long long)oh, (long long)ow);
  }
  return AZ_OK;
}

}  // namespace

/** Adaptive average pooling of `planes` planes [h, w] to [oh, ow]. */
AZ_API int attnzoo_adaptive_avg_pool2d(int dtype, uint64_t x, uint64_t out, int64_t planes, int64_t h, int64_t w,
                                       int64_t oh, int64_t ow) {
  AZ_REQUIRE_FLOAT("adaptive_avg_pool2d", dtype);
  if (int status = check_planes("adaptive_avg_pool2d", planes, h, w, oh, ow)) return status;
  if (planes == 0) return AZ_OK;
  AZ_DISPATCH_FLOAT(dtype,
                    adaptive_avg_pool_kernel<scalar_t><<<az_blocks(planes * oh * ow, 256), 256, 0, az_stream()>>>(
                        az_ptr<scalar_t>(x), az_ptr<scalar_t>(out), planes, h, w, oh, ow));
  AZ_LAUNCH_CHECK("adaptive_avg_pool2d");
  return AZ_OK;
}

/** Bilinear resize of `planes` planes [h, w] to [oh, ow]. */
AZ_API int attnzoo_resize_bilinear(int dtype, uint64_t x, uint64_t out, int64_t planes, int64_t h, int64_t w,
                                   int64_t oh, int64_t ow, int align_corners) {
  AZ_REQUIRE_FLOAT("resize_bilinear", dtype);
  if (int status = check_planes("resize_bilinear", planes, h, w, oh, ow)) return status;
  if (planes == 0) return AZ_OK;
  AZ_DISPATCH_FLOAT(dtype, bilinear_kernel<scalar_t><<<az_blocks(planes * oh * ow, 256), 256, 0, az_stream()>>>(
                               az_ptr<scalar_t>(x), az_ptr<scalar_t>(out), planes, h, w, oh, ow, align_corners != 0));
  AZ_LAUNCH_CHECK("resize_bilinear");
  return AZ_OK;
}
