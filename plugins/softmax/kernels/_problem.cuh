// The problem every FlashSoftmax launch shares: sizes, element strides of q, k, v and o (any
// layout whose head dim is contiguous), the score scale and mask, and the error reporting of
// libattnzoo_softmax.so.
#pragma once
#include <cuda_runtime.h>
#include <stdint.h>

#include "_runtime.h"

namespace flash_softmax {

// Element strides of a [batch][token][head][d] view; the d axis has stride 1.
struct Strides {
  int64_t batch, token, head;
};

struct Problem {
  int batch, heads, kv_heads, nq, nk;
  // Key position of query 0: query i sees key j when j ≤ i + query_offset (causal) and its ALiBi
  // distance is i + query_offset − j.
  int query_offset;
  Strides q, k, v, o;
  float scale_log2;     // score scale · log2(e): the kernel works in base 2
  const float* slopes;  // ALiBi slope of (batch, head) at b·slopes_batch_stride + h; null without ALiBi
  int slopes_batch_stride;
};

// Records "op: message" as this thread's last error and returns `status`.
int fail(int status, const char* op, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

// Launches the forward variant for the dtype code and head dim (64 or 128) make_problem accepted.
int launch_forward(const Problem& p, int dtype, int head_dim, bool causal, uint64_t q, uint64_t k, uint64_t v,
                   uint64_t o, cudaStream_t stream);

}  // namespace flash_softmax

// Returns a failed CUDA call as AZ_CUDA with the library's last error set.
#define SOFTMAX_CUDA_CHECK(op, call)                                                               \
  do {                                                                                             \
    cudaError_t softmax_err_ = (call);                                                             \
    if (softmax_err_ != cudaSuccess) {                                                             \
      return flash_softmax::fail(AZ_CUDA, op, "%s (%s)", cudaGetErrorString(softmax_err_), #call); \
    }                                                                                              \
  } while (0)
