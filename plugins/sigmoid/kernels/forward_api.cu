// Exported forward entry points: the automatic choice and each implementation by name (tests and
// benchmarks compare them on the same device).
#include "_forward.cuh"
#include "_status.cuh"

namespace flash_sigmoid {

enum class ForwardPath { Auto, Mma, Sm90, Decode };

static int forward(ForwardPath path, int dtype, uint64_t q, uint64_t k, uint64_t v, uint64_t o, int batch, int heads,
                   int kv_heads, int nq, int nk, int head_dim, float scale, float bias, int causal,
                   uint64_t alibi_slopes, int slopes_batch_stride, uint64_t stream,
                   const int64_t (*strides)[12] = nullptr) {
  const char* op = "sigmoid_forward";
  Problem p;
  SIG_CHECK(make_problem(op, dtype, batch, heads, kv_heads, nq, nk, head_dim, scale, bias, alibi_slopes,
                         slopes_batch_stride, &p, TiledHeadDims::contains, "32, 64, 96, 128 or 256"));
  if (strides != nullptr) SIG_CHECK(set_strides(op, *strides, &p));
  SIG_CHECK(check_pointer(op, "q", q));
  SIG_CHECK(check_pointer(op, "k", k));
  SIG_CHECK(check_pointer(op, "v", v));
  SIG_CHECK(check_pointer(op, "o", o));
  cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  // Only the strided entry point chooses the decode kernel by itself: the [B, N, H, d] ones keep
  // their measured choice of the two tiled kernels.
  if (path == ForwardPath::Decode || (path == ForwardPath::Auto && strides != nullptr && prefers_decode(p))) {
    return forward_decode(p, dtype, head_dim, causal != 0, q, k, v, o, s);
  }
  if (path != ForwardPath::Mma) {
    int major = 0;
    SIG_CHECK(capability_major(op, &major));
    if (path == ForwardPath::Sm90 && major != 9) {
      return fail(AZ_INVALID, op, "the wgmma path needs compute capability 9.x (device has %d.x)", major);
    }
    const bool wgmma_dim = DefaultHeadDims::contains(head_dim);
    if (path == ForwardPath::Sm90 && !wgmma_dim) {
      return fail(AZ_INVALID, op, "the wgmma path takes head_dim 64 or 128, not %d", head_dim);
    }
    // Measured on H100 (NOTES.md, run fwd3): the wgmma kernel (v8) is ahead of mma.sync at d 64 and
    // 128, causal or not. Other dims: mma.sync.
    if (major == 9 && wgmma_dim) {
      return forward_sm90(p, dtype, head_dim, causal != 0, q, k, v, o, s);
    }
  }
  return forward_mma(p, dtype, head_dim, causal != 0, q, k, v, o, s);
}

}  // namespace flash_sigmoid

/**
 * Sigmoid attention forward. q, o: [batch, nq, heads, head_dim]; k, v: [batch, nk, kv_heads,
 * head_dim], contiguous, f16 or bf16 (dtype code), 16-byte aligned device pointers; head_dim 32, 64,
 * 96, 128 or 256 (wgmma takes 64 and 128, mma.sync all). P = σ(scale·q·k + bias − slope·|i + nk − nq − j|), causal bottom-right aligned; alibi_slopes
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

/** attnzoo_sigmoid_forward on the wgmma kernel (compute capability 9.x, d 64 or 128; AZ_INVALID elsewhere). */
AZ_API int attnzoo_sigmoid_forward_sm90(int dtype, uint64_t q, uint64_t k, uint64_t v, uint64_t o, int batch, int heads,
                                        int kv_heads, int nq, int nk, int head_dim, float scale, float bias, int causal,
                                        uint64_t alibi_slopes, int slopes_batch_stride, uint64_t stream) {
  return flash_sigmoid::forward(flash_sigmoid::ForwardPath::Sm90, dtype, q, k, v, o, batch, heads, kv_heads, nq, nk,
                                head_dim, scale, bias, causal, alibi_slopes, slopes_batch_stride, stream);
}

/**
 * attnzoo_sigmoid_forward on tensors with explicit element strides: for each of q, k, v, o its
 * (batch, token, head) strides, non-negative multiples of 8, the head dim contiguous. So [B, H, N, d]
 * tensors, [B, N, H, d] ones, slices of a packed qkv projection or a KV cache with spare capacity
 * (nk = the valid keys, the token stride unchanged) go in without copies. For a few queries
 * (heads / kv_heads × nq ≤ 16: decoding) it runs the decode kernel, else the tiled forward.
 */
AZ_API int attnzoo_sigmoid_forward_strided(int dtype, uint64_t q, uint64_t k, uint64_t v, uint64_t o, int batch,
                                           int heads, int kv_heads, int nq, int nk, int head_dim, float scale,
                                           float bias, int causal, uint64_t alibi_slopes, int slopes_batch_stride,
                                           uint64_t stream, int64_t q_batch, int64_t q_token, int64_t q_head,
                                           int64_t k_batch, int64_t k_token, int64_t k_head, int64_t v_batch,
                                           int64_t v_token, int64_t v_head, int64_t o_batch, int64_t o_token,
                                           int64_t o_head) {
  const int64_t strides[12] = {q_batch, q_token, q_head, k_batch, k_token, k_head,
                               v_batch, v_token, v_head, o_batch, o_token, o_head};
  return flash_sigmoid::forward(flash_sigmoid::ForwardPath::Auto, dtype, q, k, v, o, batch, heads, kv_heads, nq, nk,
                                head_dim, scale, bias, causal, alibi_slopes, slopes_batch_stride, stream, &strides);
}

/** attnzoo_sigmoid_forward_strided on the decode kernel whatever nq (tests and benchmarks). */
AZ_API int attnzoo_sigmoid_decode(int dtype, uint64_t q, uint64_t k, uint64_t v, uint64_t o, int batch, int heads,
                                  int kv_heads, int nq, int nk, int head_dim, float scale, float bias, int causal,
                                  uint64_t alibi_slopes, int slopes_batch_stride, uint64_t stream, int64_t q_batch,
                                  int64_t q_token, int64_t q_head, int64_t k_batch, int64_t k_token, int64_t k_head,
                                  int64_t v_batch, int64_t v_token, int64_t v_head, int64_t o_batch, int64_t o_token,
                                  int64_t o_head) {
  const int64_t strides[12] = {q_batch, q_token, q_head, k_batch, k_token, k_head,
                               v_batch, v_token, v_head, o_batch, o_token, o_head};
  return flash_sigmoid::forward(flash_sigmoid::ForwardPath::Decode, dtype, q, k, v, o, batch, heads, kv_heads, nq, nk,
                                head_dim, scale, bias, causal, alibi_slopes, slopes_batch_stride, stream, &strides);
}

/**
 * Variable-length batches, as FlashAttention's varlen API: q, o packed [total_q, heads, head_dim],
 * k, v packed [total_k, kv_heads, head_dim], contiguous; cu_seqlens_q / cu_seqlens_k are int32
 * device arrays of batch + 1 offsets (sequence b: query rows [cu_seqlens_q[b], cu_seqlens_q[b + 1]),
 * key rows likewise; non-decreasing, from 0), max_seqlen_q / max_seqlen_k bound every sequence.
 * Each sequence is its own problem: causal masks bottom-right aligned per sequence (query i of a
 * sequence with nq queries and nk keys sees keys j ≤ i + nk − nq), ALiBi distances likewise. The
 * mma.sync kernel on any sm_80+ device; other arguments as attnzoo_sigmoid_forward.
 */
AZ_API int attnzoo_sigmoid_forward_varlen(int dtype, uint64_t q, uint64_t k, uint64_t v, uint64_t o,
                                          uint64_t cu_seqlens_q, uint64_t cu_seqlens_k, int batch, int heads,
                                          int kv_heads, int max_seqlen_q, int max_seqlen_k, int head_dim, float scale,
                                          float bias, int causal, uint64_t alibi_slopes, int slopes_batch_stride,
                                          uint64_t stream) {
  using namespace flash_sigmoid;
  const char* op = "sigmoid_forward_varlen";
  Problem p;
  SIG_CHECK(make_problem(op, dtype, batch, heads, kv_heads, max_seqlen_q, max_seqlen_k, head_dim, scale, bias,
                         alibi_slopes, slopes_batch_stride, &p, TiledHeadDims::contains, "32, 64, 96, 128 or 256"));
  SIG_CHECK(check_pointer(op, "q", q));
  SIG_CHECK(check_pointer(op, "k", k));
  SIG_CHECK(check_pointer(op, "v", v));
  SIG_CHECK(check_pointer(op, "o", o));
  if (cu_seqlens_q == 0 || cu_seqlens_k == 0 || cu_seqlens_q % 4 != 0 || cu_seqlens_k % 4 != 0) {
    return fail(AZ_INVALID, op, "cu_seqlens_q (0x%llx) and cu_seqlens_k (0x%llx) must be non-null and 4-byte aligned",
                (unsigned long long)cu_seqlens_q, (unsigned long long)cu_seqlens_k);
  }
  p.cu_q = reinterpret_cast<const int*>(cu_seqlens_q);
  p.cu_k = reinterpret_cast<const int*>(cu_seqlens_k);
  return forward_mma(p, dtype, head_dim, causal != 0, q, k, v, o, reinterpret_cast<cudaStream_t>(stream));
}
