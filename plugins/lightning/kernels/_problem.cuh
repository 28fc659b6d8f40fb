// What every lightning-attention export shares: the problem (pointers, sizes, element strides),
// its argument checks and the library's last-error string.
#pragma once
#include "_runtime.h"

namespace lightning {

// Element strides of one [batch, heads, tokens, features] operand; features are contiguous.
struct Strides {
  int64_t batch, head, token;
};

struct Problem {
  const void* q;
  const void* k;
  const void* v;
  void* o;
  const float* rates;  // s_h, λ_h = exp(−s_h), f32 [heads]
  const float* state_in;  // f32 [batch, heads, d, e] or null (zeros)
  float* state_out;  // f32 [batch, heads, d, e] or null; may equal state_in
  int batch, heads, n, d, e;
  Strides qs, ks, vs, os;
  // Second pass of the bidirectional form: the diagonal is excluded and o accumulates.
  bool strict, accumulate;
  // The sequence split into `segments` of `segment_len` tokens (a multiple of the block), one CTA
  // each: a first launch writes each segment's own state, from zero, to workspace[segment] (f32
  // [segments − 1, batch, heads, d, e]); the second starts every segment from the decayed sum of
  // the states before it.
  float* workspace;
  int segments, segment_len;
};

// Records "op: message" as this thread's last error and returns `status`.
int fail(int status, const char* op, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

// Checks dtype, sizes, pointers and strides and fills `p` (states left null); AZ_OK or a failure.
int make_problem(const char* op, int dtype, uint64_t q, uint64_t k, uint64_t v, uint64_t o, uint64_t rates, int batch,
                 int heads, int n, int d, int e, const int64_t (&strides)[12], Problem* p);

// Rejects a state pointer that is not 8-byte aligned (the kernels move float pairs).
int check_state(const char* op, const char* name, uint64_t state);

}  // namespace lightning

#define LA_CHECK(call)         \
  do {                         \
    int la_status_ = (call);   \
    if (la_status_ != AZ_OK) { \
      return la_status_;       \
    }                          \
  } while (0)

#define LA_CUDA_CHECK(op, call)                                                           \
  do {                                                                                    \
    cudaError_t la_err_ = (call);                                                         \
    if (la_err_ != cudaSuccess) {                                                         \
      return lightning::fail(AZ_CUDA, op, "%s (%s)", cudaGetErrorString(la_err_), #call); \
    }                                                                                     \
  } while (0)
