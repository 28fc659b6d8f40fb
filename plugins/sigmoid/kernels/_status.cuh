// Error reporting of libattnzoo_sigmoid.so: every export returns an AzStatus and records
// "op: message" for attnzoo_sigmoid_last_error; checks of the arguments every kernel shares.
#pragma once
#include "_dispatch.cuh"
#include "_runtime.h"
#include "_score.cuh"

namespace flash_sigmoid {

// Records "op: message" as this thread's last error and returns `status`.
int fail(int status, const char* op, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

// Fills the shape and strides of [B, N, H, d] tensors after checking them; AZ_OK or a failure. The head
// dim must pass `head_dim_ok` (the calling family's dims, listed in `head_dims` for the message).
int make_problem(const char* op, int dtype, int batch, int heads, int kv_heads, int nq, int nk, int head_dim,
                 float scale, float bias, uint64_t slopes, int slopes_batch_stride, Problem* out,
                 bool (*head_dim_ok)(int) = DefaultHeadDims::contains, const char* head_dims = "64 or 128");

// Replaces p's strides by (batch, token, head) element strides of q, k, v and o, in that order,
// after checking that each is a non-negative multiple of 8 elements (16 bytes).
int set_strides(const char* op, const int64_t (&strides)[12], Problem* p);

// The compute capability major of the current device (9 picks the wgmma kernels).
int capability_major(const char* op, int* major);

// Rejects a null or misaligned (cp.async moves 16 bytes) tensor handle.
int check_pointer(const char* op, const char* name, uint64_t handle);

}  // namespace flash_sigmoid

#define SIG_CHECK(call)         \
  do {                          \
    int sig_status_ = (call);   \
    if (sig_status_ != AZ_OK) { \
      return sig_status_;       \
    }                           \
  } while (0)

#define SIG_CUDA_CHECK(op, call)                                                               \
  do {                                                                                         \
    cudaError_t sig_err_ = (call);                                                             \
    if (sig_err_ != cudaSuccess) {                                                             \
      return flash_sigmoid::fail(AZ_CUDA, op, "%s (%s)", cudaGetErrorString(sig_err_), #call); \
    }                                                                                          \
  } while (0)
