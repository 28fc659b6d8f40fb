// Small forward + backward runs for compute-sanitizer (memcheck, racecheck): ragged sizes, GQA,
// causal with Nq ≠ Nk, ALiBi, both head dims, every forward path the device has, both backward
// modes (atomic single pass, deterministic two-pass); the strided entry point and the decode kernel
// on [B, H, N, d] tensors with a KV cache of spare capacity.
// Exits 1 on any non-zero status or CUDA error.
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

#include <vector>

extern "C" int attnzoo_sigmoid_forward(int, uint64_t, uint64_t, uint64_t, uint64_t, int, int, int, int, int, int, float,
                                       float, int, uint64_t, int, uint64_t);
extern "C" int attnzoo_sigmoid_forward_mma(int, uint64_t, uint64_t, uint64_t, uint64_t, int, int, int, int, int, int,
                                           float, float, int, uint64_t, int, uint64_t);
extern "C" int attnzoo_sigmoid_forward_sm90(int, uint64_t, uint64_t, uint64_t, uint64_t, int, int, int, int, int, int,
                                            float, float, int, uint64_t, int, uint64_t);
extern "C" int attnzoo_sigmoid_backward(int, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
                                        uint64_t, int, int, int, int, int, int, float, float, int, uint64_t, int, int,
                                        uint64_t);
extern "C" int attnzoo_sigmoid_backward_mma(int, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
                                            uint64_t, int, int, int, int, int, int, float, float, int, uint64_t, int,
                                            int, uint64_t);
extern "C" int attnzoo_sigmoid_forward_strided(int, uint64_t, uint64_t, uint64_t, uint64_t, int, int, int, int, int,
                                               int, float, float, int, uint64_t, int, uint64_t, int64_t, int64_t,
                                               int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                               int64_t, int64_t, int64_t);
extern "C" int attnzoo_sigmoid_decode(int, uint64_t, uint64_t, uint64_t, uint64_t, int, int, int, int, int, int, float,
                                      float, int, uint64_t, int, uint64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                      int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);
extern "C" int attnzoo_sigmoid_forward_varlen(int, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, int, int,
                                              int, int, int, int, float, float, int, uint64_t, int, uint64_t);
extern "C" int attnzoo_sigmoid_backward_varlen(int, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
                                               uint64_t, uint64_t, uint64_t, int, int, int, int, int, int, int, float,
                                               float, int, uint64_t, int, int, uint64_t);
extern "C" int attnzoo_sigmoid_backward_varlen_mma(int, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
                                                   uint64_t, uint64_t, uint64_t, uint64_t, int, int, int, int, int, int,
                                                   int, float, float, int, uint64_t, int, int, uint64_t);
extern "C" int attnzoo_sigmoid_last_error(char*, int);

static uint64_t random_tensor(size_t n, unsigned seed) {
  std::vector<__nv_bfloat16> host(n);
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1664525u + 1013904223u;
    host[i] = __float2bfloat16(static_cast<float>(seed >> 8) / 16777216.0f - 0.5f);
  }
  void* p = nullptr;
  if (cudaMalloc(&p, n * sizeof(__nv_bfloat16)) != cudaSuccess) return 0;
  cudaMemcpy(p, host.data(), n * sizeof(__nv_bfloat16), cudaMemcpyHostToDevice);
  return reinterpret_cast<uint64_t>(p);
}

int main() {
  const int b = 1, h = 4, hkv = 2, nq = 77, nk = 130;
  float slopes_host[4] = {0.5f, 0.25f, 0.125f, 0.0625f};
  void* slopes = nullptr;
  cudaMalloc(&slopes, sizeof(slopes_host));
  cudaMemcpy(slopes, slopes_host, sizeof(slopes_host), cudaMemcpyHostToDevice);
  int failures = 0;
  for (int d : {64, 128}) {
    for (int causal = 0; causal < 2; causal++) {
      const size_t nqe = static_cast<size_t>(b) * nq * h * d, nke = static_cast<size_t>(b) * nk * hkv * d;
      uint64_t q = random_tensor(nqe, 1), k = random_tensor(nke, 2), v = random_tensor(nke, 3);
      uint64_t o = random_tensor(nqe, 4), dout = random_tensor(nqe, 5), dq = random_tensor(nqe, 6);
      uint64_t dk = random_tensor(nke, 7), dv = random_tensor(nke, 8);
      void* workspace = nullptr;
      cudaMalloc(&workspace, nqe * sizeof(float));
      int s1 = attnzoo_sigmoid_forward(2, q, k, v, o, b, h, hkv, nq, nk, d, 0.125f, -2.0f, causal,
                                       reinterpret_cast<uint64_t>(slopes), 0, 0);
      int s2 = 0;
      for (int deterministic = 0; deterministic < 2; deterministic++) {
        s2 |= attnzoo_sigmoid_backward(2, q, k, v, dout, dq, dk, dv, reinterpret_cast<uint64_t>(workspace), b, h, hkv,
                                       nq, nk, d, 0.125f, -2.0f, causal, reinterpret_cast<uint64_t>(slopes), 0,
                                       deterministic, 0);
      }
      s2 |= attnzoo_sigmoid_backward_mma(2, q, k, v, dout, dq, dk, dv, reinterpret_cast<uint64_t>(workspace), b, h,
                                         hkv, nq, nk, d, 0.125f, -2.0f, causal, reinterpret_cast<uint64_t>(slopes), 0,
                                         0, 0);
      s1 |= attnzoo_sigmoid_forward_mma(2, q, k, v, o, b, h, hkv, nq, nk, d, 0.125f, -2.0f, causal,
                                        reinterpret_cast<uint64_t>(slopes), 0, 0);
      int major = 0;
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0);
      if (major == 9) {
        s1 |= attnzoo_sigmoid_forward_sm90(2, q, k, v, o, b, h, hkv, nq, nk, d, 0.125f, -2.0f, causal,
                                           reinterpret_cast<uint64_t>(slopes), 0, 0);
      }
      cudaError_t err = cudaDeviceSynchronize();
      char msg[512];
      attnzoo_sigmoid_last_error(msg, sizeof(msg));
      printf("d=%d causal=%d: forward %d backward %d sync %s %s\n", d, causal, s1, s2, cudaGetErrorString(err),
             s1 || s2 ? msg : "");
      failures += (s1 != 0) + (s2 != 0) + (err != cudaSuccess);
      for (uint64_t p : {q, k, v, o, dout, dq, dk, dv}) cudaFree(reinterpret_cast<void*>(p));
      cudaFree(workspace);
    }
  }
  // Decoding: q, o [B, H, nq, d], k, v the first nk of a [B, Hkv, capacity, d] cache; nk 1000
  // splits the keys over CTAs (partial sums + combine), nq 77 needs 10 query row blocks (and takes
  // the tiled mma.sync forward through the strided entry point): every head dim the two take.
  for (int d : {32, 64, 96, 128, 256}) {
    for (int nq_decode : {3, 77}) {
      const int nk_decode = 1000, capacity = 1024;
      const size_t nqe = static_cast<size_t>(b) * h * nq_decode * d, nke = static_cast<size_t>(b) * hkv * capacity * d;
      uint64_t q = random_tensor(nqe, 11), k = random_tensor(nke, 12), v = random_tensor(nke, 13);
      uint64_t o = random_tensor(nqe, 14);
      const int64_t qs[3] = {static_cast<int64_t>(h) * nq_decode * d, d, static_cast<int64_t>(nq_decode) * d};
      const int64_t ks[3] = {static_cast<int64_t>(hkv) * capacity * d, d, static_cast<int64_t>(capacity) * d};
      int status = 0;
      for (int causal = 0; causal < 2; causal++) {
        status |= attnzoo_sigmoid_decode(2, q, k, v, o, b, h, hkv, nq_decode, nk_decode, d, 0.125f, -2.0f, causal,
                                         reinterpret_cast<uint64_t>(slopes), 0, 0, qs[0], qs[1], qs[2], ks[0], ks[1],
                                         ks[2], ks[0], ks[1], ks[2], qs[0], qs[1], qs[2]);
        status |= attnzoo_sigmoid_forward_strided(2, q, k, v, o, b, h, hkv, nq_decode, nk_decode, d, 0.125f, -2.0f,
                                                  causal, reinterpret_cast<uint64_t>(slopes), 0, 0, qs[0], qs[1],
                                                  qs[2], ks[0], ks[1], ks[2], ks[0], ks[1], ks[2], qs[0], qs[1], qs[2]);
      }
      cudaError_t err = cudaDeviceSynchronize();
      char msg[512];
      attnzoo_sigmoid_last_error(msg, sizeof(msg));
      printf("decode/strided d=%d nq=%d: status %d sync %s %s\n", d, nq_decode, status, cudaGetErrorString(err),
             status ? msg : "");
      failures += (status != 0) + (err != cudaSuccess);
      for (uint64_t p : {q, k, v, o}) cudaFree(reinterpret_cast<void*>(p));
    }
  }
  // Varlen: three packed sequences of (nq, nk) = (5, 5), (130, 200), (1, 33), causal and not; forward
  // and the backward's three modes (d 32 and 96 in padded tiles, d 256 in column halves).
  {
    const int cu_q_host[4] = {0, 5, 135, 136}, cu_k_host[4] = {0, 5, 205, 238};
    void *cu_q = nullptr, *cu_k = nullptr;
    cudaMalloc(&cu_q, sizeof(cu_q_host));
    cudaMalloc(&cu_k, sizeof(cu_k_host));
    cudaMemcpy(cu_q, cu_q_host, sizeof(cu_q_host), cudaMemcpyHostToDevice);
    cudaMemcpy(cu_k, cu_k_host, sizeof(cu_k_host), cudaMemcpyHostToDevice);
    for (int d : {32, 64, 96, 128, 256}) {
      const size_t nqe = static_cast<size_t>(136) * h * d, nke = static_cast<size_t>(238) * hkv * d;
      uint64_t q = random_tensor(nqe, 21), k = random_tensor(nke, 22), v = random_tensor(nke, 23);
      uint64_t o = random_tensor(nqe, 24), dout = random_tensor(nqe, 25), dq = random_tensor(nqe, 26);
      uint64_t dk = random_tensor(nke, 27), dv = random_tensor(nke, 28);
      void* workspace = nullptr;
      cudaMalloc(&workspace, nqe * sizeof(float));
      const uint64_t ws = reinterpret_cast<uint64_t>(workspace), cq = reinterpret_cast<uint64_t>(cu_q);
      const uint64_t ck = reinterpret_cast<uint64_t>(cu_k), sl = reinterpret_cast<uint64_t>(slopes);
      int status = 0;
      for (int causal = 0; causal < 2; causal++) {
        status |= attnzoo_sigmoid_forward_varlen(2, q, k, v, o, cq, ck, 3, h, hkv, 130, 200, d, 0.125f, -2.0f, causal,
                                                 sl, 0, 0);
        for (int deterministic = 0; deterministic < 2; deterministic++) {
          status |= attnzoo_sigmoid_backward_varlen(2, q, k, v, dout, dq, dk, dv, ws, cq, ck, 3, h, hkv, 136, 130, 200,
                                                    d, 0.125f, -2.0f, causal, sl, 0, deterministic, 0);
        }
        status |= attnzoo_sigmoid_backward_varlen_mma(2, q, k, v, dout, dq, dk, dv, ws, cq, ck, 3, h, hkv, 136, 130,
                                                      200, d, 0.125f, -2.0f, causal, sl, 0, 0, 0);
      }
      cudaError_t err = cudaDeviceSynchronize();
      char msg[512];
      attnzoo_sigmoid_last_error(msg, sizeof(msg));
      printf("varlen d=%d: status %d sync %s %s\n", d, status, cudaGetErrorString(err), status ? msg : "");
      failures += (status != 0) + (err != cudaSuccess);
      for (uint64_t p : {q, k, v, o, dout, dq, dk, dv}) cudaFree(reinterpret_cast<void*>(p));
      cudaFree(workspace);
    }
    cudaFree(cu_q);
    cudaFree(cu_k);
  }
  cudaFree(slopes);
  return failures == 0 ? 0 : 1;
}
