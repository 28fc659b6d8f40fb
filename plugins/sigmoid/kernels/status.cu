// The sigmoid library's last-error string and the argument checks shared by its exports.
#include <math.h>
#include <stdarg.h>

#include "_error_record.h"
#include "_status.cuh"

namespace flash_sigmoid {

static thread_local attnzoo::ErrorRecord<512> last_error;

int fail(int status, const char* op, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  const int result = last_error.record(status, op, fmt, args);
  va_end(args);
  return result;
}

int capability_major(const char* op, int* major) {
  int device = 0;
  SIG_CUDA_CHECK(op, cudaGetDevice(&device));
  SIG_CUDA_CHECK(op, cudaDeviceGetAttribute(major, cudaDevAttrComputeCapabilityMajor, device));
  return AZ_OK;
}

int check_pointer(const char* op, const char* name, uint64_t handle) {
  if (handle == 0) return fail(AZ_INVALID, op, "%s is a null device pointer", name);
  if (handle % 16 != 0)
    return fail(AZ_INVALID, op, "%s (0x%llx) is not 16-byte aligned", name, (unsigned long long)handle);
  return AZ_OK;
}

int make_problem(const char* op, int dtype, int batch, int heads, int kv_heads, int nq, int nk, int head_dim,
                 float scale, float bias, uint64_t slopes, int slopes_batch_stride, Problem* out,
                 bool (*head_dim_ok)(int), const char* head_dims) {
  if (dtype != AZ_F16 && dtype != AZ_BF16) {
    return fail(AZ_INVALID, op, "unsupported dtype code %d (want f16 or bf16)", dtype);
  }
  if (!head_dim_ok(head_dim)) {
    return fail(AZ_INVALID, op, "head_dim %d is not supported (want %s)", head_dim, head_dims);
  }
  if (batch < 1 || heads < 1 || kv_heads < 1 || nq < 1 || nk < 1) {
    return fail(AZ_INVALID, op, "sizes must be positive: batch %d, heads %d, kv_heads %d, nq %d, nk %d", batch, heads,
                kv_heads, nq, nk);
  }
  if (heads % kv_heads != 0) {
    return fail(AZ_INVALID, op, "heads %d is not a multiple of kv_heads %d", heads, kv_heads);
  }
  if (batch > 65535 || heads > 65535) {
    return fail(AZ_RANGE, op, "batch %d or heads %d exceeds the grid limit 65535", batch, heads);
  }
  if (!isfinite(scale) || !isfinite(bias)) {
    return fail(AZ_INVALID, op, "scale %g and bias %g must be finite", scale, bias);
  }
  if (slopes != 0 && slopes % 4 != 0) {
    return fail(AZ_INVALID, op, "alibi_slopes (0x%llx) is not 4-byte aligned", (unsigned long long)slopes);
  }
  if (slopes_batch_stride < 0) {
    return fail(AZ_INVALID, op, "slopes_batch_stride %d is negative", slopes_batch_stride);
  }
  out->batch = batch;
  out->heads = heads;
  out->kv_heads = kv_heads;
  out->nq = nq;
  out->nk = nk;
  out->q_row = static_cast<int64_t>(heads) * head_dim;
  out->q_batch = out->q_row * nq;
  out->kv_row = static_cast<int64_t>(kv_heads) * head_dim;
  out->kv_batch = out->kv_row * nk;
  out->q_head = out->k_head = head_dim;
  out->v_row = out->kv_row;
  out->v_batch = out->kv_batch;
  out->v_head = head_dim;
  out->o_row = out->q_row;
  out->o_batch = out->q_batch;
  out->o_head = head_dim;
  out->cu_q = out->cu_k = nullptr;
  out->scale = scale;
  out->bias = bias;
  out->slopes = reinterpret_cast<const float*>(slopes);
  out->slopes_batch_stride = slopes_batch_stride;
  return AZ_OK;
}

int set_strides(const char* op, const int64_t (&strides)[12], Problem* p) {
  static const char* names[12] = {"q batch", "q token", "q head", "k batch", "k token", "k head",
                                  "v batch", "v token", "v head", "o batch", "o token", "o head"};
  for (int i = 0; i < 12; i++) {
    // cp.async and the output stores move 16 bytes (8 elements) at a time
    if (strides[i] < 0 || strides[i] % 8 != 0) {
      return fail(AZ_INVALID, op, "%s stride %lld is not a non-negative multiple of 8 elements", names[i],
                  (long long)strides[i]);
    }
  }
  p->q_batch = strides[0];
  p->q_row = strides[1];
  p->q_head = strides[2];
  p->kv_batch = strides[3];
  p->kv_row = strides[4];
  p->k_head = strides[5];
  p->v_batch = strides[6];
  p->v_row = strides[7];
  p->v_head = strides[8];
  p->o_batch = strides[9];
  p->o_row = strides[10];
  p->o_head = strides[11];
  return AZ_OK;
}

}  // namespace flash_sigmoid

/** Copies the calling thread's last error into buf (NUL-terminated, at most len bytes); returns its length. */
AZ_API int attnzoo_sigmoid_last_error(char* buf, int len) {
  return flash_sigmoid::last_error.copy_to(buf, len);
}
