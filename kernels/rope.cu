// Rotary position embedding, half-rotation layout (Llama's rotate_half): for x [..., N, d] the
// pair (x[i], x[i + d/2]) of token n turns by the angle (offset + n) · θ^(−2i/d). Angles are
// computed in f64 so that every position up to millions of tokens keeps f32-exact rotations.
#include "_runtime.h"

namespace {

template <typename T>
__global__ void rope_kernel(const T* x, T* out, int64_t rows, int64_t tokens, int64_t dim, int64_t offset,
                            double log_theta) {
  const int64_t half = dim / 2;
  for (int64_t p = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; p < rows * half;
       p += (int64_t)gridDim.x * blockDim.x) {
    const int64_t row = p / half, i = p % half;
    const double angle = (double)(offset + row % tokens) * exp(-2.0 * (double)i / (double)dim * log_theta);
    double s, c;
    sincos(angle, &s, &c);
    const float a = az_load(x, row * dim + i), b = az_load(x, row * dim + i + half);
    az_store(out, row * dim + i, (float)((double)a * c - (double)b * s));
    az_store(out, row * dim + i + half, (float)((double)b * c + (double)a * s));
  }
}

}  // namespace

/** Rotates `rows` rows of `dim` (even) of x into out; row r is token offset + r % tokens. */
AZ_API int attnzoo_rope(int dtype, uint64_t x, uint64_t out, int64_t rows, int64_t tokens, int64_t dim,
                        int64_t offset, double theta) {
  AZ_REQUIRE_FLOAT("rope", dtype);
  if (dim % 2 != 0 || tokens < 1 || offset < 0 || !(theta > 1.0)) {
    return az_fail(AZ_INVALID, "rope", "dim %lld must be even, tokens %lld positive, offset %lld >= 0, theta %g > 1",
                   (long long)dim, (long long)tokens, (long long)offset, theta);
  }
  if (rows * dim == 0) return AZ_OK;
  AZ_DISPATCH_FLOAT(dtype, rope_kernel<scalar_t><<<az_blocks(rows * dim / 2, 256), 256, 0, az_stream()>>>(
                               az_ptr<scalar_t>(x), az_ptr<scalar_t>(out), rows, tokens, dim, offset, log(theta)));
  AZ_LAUNCH_CHECK("rope");
  return AZ_OK;
}
