// The lightning library's last-error string and the argument checks its exports share.
#include <stdarg.h>

#include "_error_record.h"
#include "_problem.cuh"

namespace lightning {

static thread_local attnzoo::ErrorRecord<512> last_error;

int fail(int status, const char* op, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  const int result = last_error.record(status, op, fmt, args);
  va_end(args);
  return result;
}

static int check_pointer(const char* op, const char* name, uint64_t handle) {
  if (handle == 0) return fail(AZ_INVALID, op, "%s is a null device pointer", name);
  if (handle % 16 != 0) {
    return fail(AZ_INVALID, op, "%s (0x%llx) is not 16-byte aligned", name, (unsigned long long)handle);
  }
  return AZ_OK;
}

int check_state(const char* op, const char* name, uint64_t state) {
  if (state % 8 != 0) {
    return fail(AZ_INVALID, op, "%s (0x%llx) is not 8-byte aligned", name, (unsigned long long)state);
  }
  return AZ_OK;
}

int make_problem(const char* op, int dtype, uint64_t q, uint64_t k, uint64_t v, uint64_t o, uint64_t rates, int batch,
                 int heads, int n, int d, int e, const int64_t (&strides)[12], Problem* p) {
  if (dtype != AZ_F16 && dtype != AZ_BF16) {
    return fail(AZ_INVALID, op, "unsupported dtype code %d (want f16 or bf16)", dtype);
  }
  if (batch < 1 || heads < 1 || n < 1) {
    return fail(AZ_INVALID, op, "sizes must be positive: batch %d, heads %d, n %d", batch, heads, n);
  }
  if (batch > 65535 || heads > 65535) {
    return fail(AZ_RANGE, op, "batch %d or heads %d exceeds the grid limit 65535", batch, heads);
  }
  if (d != 64 && d != 128 && d != 256) return fail(AZ_INVALID, op, "q/k head dim %d is not 64, 128 or 256", d);
  if (e < 32 || e % 32 != 0) return fail(AZ_INVALID, op, "v head dim %d is not a positive multiple of 32", e);
  for (int i = 0; i < 12; i++) {
    // rows start on 16-byte boundaries: the tiles are moved in 16-byte pieces
    if (strides[i] % 8 != 0) {
      return fail(AZ_INVALID, op, "stride %d (%lld elements) is not a multiple of 8", i, (long long)strides[i]);
    }
  }
  LA_CHECK(check_pointer(op, "q", q));
  LA_CHECK(check_pointer(op, "k", k));
  LA_CHECK(check_pointer(op, "v", v));
  LA_CHECK(check_pointer(op, "o", o));
  if (rates == 0 || rates % 4 != 0) {
    return fail(AZ_INVALID, op, "rates (0x%llx) must be a 4-byte aligned device pointer", (unsigned long long)rates);
  }
  p->q = reinterpret_cast<const void*>(q);
  p->k = reinterpret_cast<const void*>(k);
  p->v = reinterpret_cast<const void*>(v);
  p->o = reinterpret_cast<void*>(o);
  p->rates = reinterpret_cast<const float*>(rates);
  p->state_in = nullptr;
  p->state_out = nullptr;
  p->batch = batch;
  p->heads = heads;
  p->n = n;
  p->d = d;
  p->e = e;
  p->qs = {strides[0], strides[1], strides[2]};
  p->ks = {strides[3], strides[4], strides[5]};
  p->vs = {strides[6], strides[7], strides[8]};
  p->os = {strides[9], strides[10], strides[11]};
  p->strict = false;
  p->accumulate = false;
  p->workspace = nullptr;
  p->segments = 1;
  p->segment_len = n;
  return AZ_OK;
}

}  // namespace lightning

/** Copies the calling thread's last error into buf (NUL-terminated, at most len bytes); returns its length. */
AZ_API int attnzoo_lightning_last_error(char* buf, int len) {
  return lightning::last_error.copy_to(buf, len);
}
