// The GEMM entry that other runtime files (conv.cu's im2col path) call directly.
#pragma once
#include <stdint.h>

// Row-major C[b] = alpha · op(A[b]) @ op(B[b]) (+ bias[N]) (then tanh-GELU) for b < batch, with
// element strides between batch entries. op(A) is [M, K], op(B) is [K, N]. Returns a status.
int az_gemm(const char* op, int dtype, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, int64_t batch,
            const void* a, int64_t stride_a, const void* b, int64_t stride_b, void* c, int64_t stride_c,
            const void* bias, bool gelu, float alpha);
