// Exports of libattnzoo_softmax.so: the FlashSoftmax forward with its argument checks, and the
// library's last-error string.
#include <math.h>
#include <stdarg.h>

#include "_error_record.h"
#include "_problem.cuh"

namespace flash_softmax {

static thread_local attnzoo::ErrorRecord<512> last_error;

int fail(int status, const char* op, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  const int result = last_error.record(status, op, fmt, args);
  va_end(args);
  return result;
}

static const char* const OP = "softmax_forward";

// cp.async and the output stores move 16 bytes (8 elements): pointers and strides must keep that.
static int check_tensor(const char* name, uint64_t handle, const Strides& s) {
  if (handle == 0) return fail(AZ_INVALID, OP, "%s is a null device pointer", name);
  if (handle % 16 != 0) {
    return fail(AZ_INVALID, OP, "%s (0x%llx) is not 16-byte aligned", name, (unsigned long long)handle);
  }
  if (s.batch < 0 || s.token < 0 || s.head < 0 || s.batch % 8 != 0 || s.token % 8 != 0 || s.head % 8 != 0) {
    return fail(AZ_INVALID, OP, "%s strides (batch %lld, token %lld, head %lld) must be non-negative multiples of 8",
                name, (long long)s.batch, (long long)s.token, (long long)s.head);
  }
  return AZ_OK;
}

static int make_problem(int dtype, int batch, int heads, int kv_heads, int nq, int nk, int head_dim, float scale,
                        int query_offset, uint64_t slopes, int slopes_batch_stride, Problem* out) {
  if (dtype != AZ_F16 && dtype != AZ_BF16) {
    return fail(AZ_INVALID, OP, "unsupported dtype code %d (want f16 or bf16)", dtype);
  }
  if (head_dim != 64 && head_dim != 128) {
    return fail(AZ_INVALID, OP, "head_dim %d is not supported (want 64 or 128)", head_dim);
  }
  if (batch < 1 || heads < 1 || kv_heads < 1 || nq < 1 || nk < 1) {
    return fail(AZ_INVALID, OP, "sizes must be positive: batch %d, heads %d, kv_heads %d, nq %d, nk %d", batch, heads,
                kv_heads, nq, nk);
  }
  if (heads % kv_heads != 0) {
    return fail(AZ_INVALID, OP, "heads %d is not a multiple of kv_heads %d", heads, kv_heads);
  }
  if (batch > 65535 || heads > 65535) {
    return fail(AZ_RANGE, OP, "batch %d or heads %d exceeds the grid limit 65535", batch, heads);
  }
  if (!isfinite(scale)) return fail(AZ_INVALID, OP, "scale %g must be finite", scale);
  if (slopes != 0 && slopes % 4 != 0) {
    return fail(AZ_INVALID, OP, "alibi_slopes (0x%llx) is not 4-byte aligned", (unsigned long long)slopes);
  }
  if (slopes_batch_stride < 0) return fail(AZ_INVALID, OP, "slopes_batch_stride %d is negative", slopes_batch_stride);
  out->batch = batch;
  out->heads = heads;
  out->kv_heads = kv_heads;
  out->nq = nq;
  out->nk = nk;
  out->query_offset = query_offset;
  out->scale_log2 = scale * 1.4426950408889634f;
  out->slopes = reinterpret_cast<const float*>(slopes);
  out->slopes_batch_stride = slopes_batch_stride;
  return AZ_OK;
}

}  // namespace flash_softmax

#define SOFTMAX_CHECK(call)         \
  do {                              \
    int softmax_status_ = (call);   \
    if (softmax_status_ != AZ_OK) { \
      return softmax_status_;       \
    }                               \
  } while (0)

/**
 * Softmax attention forward: O = softmax(scale·q·kᵀ − slope·|i + query_offset − j|) v over the
 * first nk keys, causal (key j hidden from query i when j > i + query_offset) or not; a query that
 * sees no key outputs 0. Element (b, token, head, c) of q sits at q + b·q_batch + token·q_token +
 * head·q_head + c, likewise k, v (kv_heads heads, nk tokens read; the buffers may hold more) and o
 * (written, heads × nq): any layout with a contiguous head dim, e.g. the q/k/v slices of a packed
 * [B, N, (H + 2·Hkv)·d] projection or [B, H, N, d] tensors, without copies. f16 or bf16 (dtype
 * code), head_dim 64 or 128, 16-byte aligned pointers and strides multiple of 8 elements.
 * alibi_slopes (0 = none) is device f32 with the slope of (b, h) at b·slopes_batch_stride + h.
 * stream: a cudaStream_t (0 = default). Returns 0, or a status with attnzoo_softmax_last_error set.
 */
AZ_API int attnzoo_softmax_forward(int dtype, uint64_t q, uint64_t k, uint64_t v, uint64_t o, int batch, int heads,
                                   int kv_heads, int nq, int nk, int head_dim, int64_t q_batch, int64_t q_token,
                                   int64_t q_head, int64_t k_batch, int64_t k_token, int64_t k_head, int64_t v_batch,
                                   int64_t v_token, int64_t v_head, int64_t o_batch, int64_t o_token, int64_t o_head,
                                   float scale, int causal, int query_offset, uint64_t alibi_slopes,
                                   int slopes_batch_stride, uint64_t stream) {
  using namespace flash_softmax;
  Problem p;
  SOFTMAX_CHECK(make_problem(dtype, batch, heads, kv_heads, nq, nk, head_dim, scale, query_offset, alibi_slopes,
                             slopes_batch_stride, &p));
  p.q = {q_batch, q_token, q_head};
  p.k = {k_batch, k_token, k_head};
  p.v = {v_batch, v_token, v_head};
  p.o = {o_batch, o_token, o_head};
  SOFTMAX_CHECK(check_tensor("q", q, p.q));
  SOFTMAX_CHECK(check_tensor("k", k, p.k));
  SOFTMAX_CHECK(check_tensor("v", v, p.v));
  SOFTMAX_CHECK(check_tensor("o", o, p.o));
  return launch_forward(p, dtype, head_dim, causal != 0, q, k, v, o, reinterpret_cast<cudaStream_t>(stream));
}

/** Copies the calling thread's last error into buf (NUL-terminated, at most len bytes); returns its length. */
AZ_API int attnzoo_softmax_last_error(char* buf, int len) {
  return flash_softmax::last_error.copy_to(buf, len);
}
