// Exported forward entry points: the automatic choice and each implementation by name (tests and
// benchmarks compare them on the same device).
#include "_forward.cuh"
#include "_status.cuh"

namespace flash_sigmoid {

enum class ForwardPath { Auto, Mma, Sm90 };

static int major_capability(int* major) {
  int device = 0;
  SIG_CUDA_CHECK("sigmoid_forward", cudaGetDevice(&device));
  SIG_CUDA_CHECK("sigmoid_forward", cudaDeviceGetAttribute(major, cudaDevAttrComputeCapabilityMajor, device));
  return AZ_OK;
}

static int forward(ForwardPath path, int dtype, uint64_t q, uint64_t k, uint64_t v, uint64_t o, int batch, int heads,
                   int kv_heads, int nq, int nk, int head_dim, float scale, float bias, int causal,
                   uint64_t alibi_slopes, int slopes_batch_stride, uint64_t stream) {
  const char* op = "sigmoid_forward";
  Problem p;
  SIG_CHECK(make_problem(op, dtype, batch, heads, kv_heads, nq, nk, head_dim, scale, bias, alibi_slopes,
                         slopes_batch_stride, &p));
  SIG_CHECK(check_pointer(op, "q", q));
  SIG_CHECK(check_pointer(op, "k", k));
  SIG_CHECK(check_pointer(op, "v", v));
  SIG_CHECK(check_pointer(op, "o", o));
  cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  if (path != ForwardPath::Mma) {
    int major = 0;
    SIG_CHECK(major_capability(&major));
    if (path == ForwardPath::Sm90 && major != 9) {
      return fail(AZ_INVALID, op, "the wgmma path needs compute capability 9.x (device has %d.x)", major);
    }
    // Measured on H100 (NOTES.md, run 3): wgmma wins at d = 128 and for causal d = 64; the mma.sync
    // kernel with two row blocks per warp stays ahead for non-causal d = 64.
    if (major == 9 && (path == ForwardPath::Sm90 || head_dim == 128 || causal != 0)) {
      return forward_sm90(p, dtype, head_dim, causal != 0, q, k, v, o, s);
    }
  }
  return forward_mma(p, dtype, head_dim, causal != 0, q, k, v, o, s);
}

}  // namespace flash_sigmoid

/**
 * Sigmoid attention forward. q, o: [batch, nq, heads, head_dim]; k, v: [batch, nk, kv_heads,
 * head_dim], contiguous, f16 or bf16 (dtype code), 16-byte aligned device pointers; head_dim 64 or
 * 128. P = σ(scale·q·k + bias − slope·|i + nk − nq − j|), causal bottom-right aligned; alibi_slopes
 * (0 = none) is f32 with the slope of (b, h) at b·slopes_batch_stride + h. stream: a cudaStream_t
 * (0 = default). Picks the fastest implementation for the device. Returns 0, or a status with
 * attnzoo_sigmoid_last_error set.
 */
AZ_API int attnzoo_sigmoid_forward(int dtype, uint64_t q, uint64_t k, uint64_t v, uint64_t o, int batch, int heads,
                                   int kv_heads, int nq, int nk, int head_dim, float scale, float bias, int causal,
                                   uint64_t alibi_slopes, int slopes_batch_stride, uint64_t stream) {
  return flash_sigmoid::forward(flash_sigmoid::ForwardPath::Auto, dtype, q, k, v, o, batch, heads, kv_heads, nq, nk,
                                head_dim, scale, bias, causal, alibi_slopes, slopes_batch_stride, stream);
}

/** attnzoo_sigmoid_forward on the mma.sync kernel (any sm_80+ device). */
AZ_API int attnzoo_sigmoid_forward_mma(int dtype, uint64_t q, uint64_t k, uint64_t v, uint64_t o, int batch, int heads,
                                       int kv_heads, int nq, int nk, int head_dim, float scale, float bias, int causal,
                                       uint64_t alibi_slopes, int slopes_batch_stride, uint64_t stream) {
  return flash_sigmoid::forward(flash_sigmoid::ForwardPath::Mma, dtype, q, k, v, o, batch, heads, kv_heads, nq, nk,
                                head_dim, scale, bias, causal, alibi_slopes, slopes_batch_stride, stream);
}

/** attnzoo_sigmoid_forward on the wgmma kernel (compute capability 9.x; AZ_INVALID elsewhere). */
AZ_API int attnzoo_sigmoid_forward_sm90(int dtype, uint64_t q, uint64_t k, uint64_t v, uint64_t o, int batch, int heads,
                                        int kv_heads, int nq, int nk, int head_dim, float scale, float bias, int causal,
                                        uint64_t alibi_slopes, int slopes_batch_stride, uint64_t stream) {
  return flash_sigmoid::forward(flash_sigmoid::ForwardPath::Sm90, dtype, q, k, v, o, batch, heads, kv_heads, nq, nk,
                                head_dim, scale, bias, causal, alibi_slopes, slopes_batch_stride, stream);
}
