// Small forwards for compute-sanitizer (memcheck, racecheck): ragged sizes, GQA, Nq ≠ Nk both ways,
// causal, ALiBi, both head dims, q/k/v read as strided slices of one packed buffer and k/v with
// spare capacity past nk. Exits 1 on any non-zero status or CUDA error.
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

#include <vector>

extern "C" int attnzoo_softmax_forward(int, uint64_t, uint64_t, uint64_t, uint64_t, int, int, int, int, int, int,
                                       int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                       int64_t, int64_t, int64_t, int64_t, float, int, int, uint64_t, int, uint64_t);
extern "C" int attnzoo_softmax_last_error(char*, int);

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
  const int b = 2, h = 4, hkv = 2, spare = 9;
  float slopes_host[4] = {0.5f, 0.25f, 0.125f, 0.0625f};
  void* slopes = nullptr;
  cudaMalloc(&slopes, sizeof(slopes_host));
  cudaMemcpy(slopes, slopes_host, sizeof(slopes_host), cudaMemcpyHostToDevice);
  int failures = 0;
  for (int d : {64, 128}) {
    for (int causal = 0; causal < 2; causal++) {
      for (auto [nq, nk] : {std::pair{77, 130}, std::pair{130, 77}, std::pair{3, 200}}) {
        // q and o [B, Nq, H, d]; k and v head-major [B, Hkv, nk + spare, d] (a KV cache)
        const size_t nqe = static_cast<size_t>(b) * nq * h * d, nke = static_cast<size_t>(b) * (nk + spare) * hkv * d;
        uint64_t q = random_tensor(nqe, 1), k = random_tensor(nke, 2), v = random_tensor(nke, 3);
        uint64_t o = random_tensor(nqe, 4);
        const int64_t kb = static_cast<int64_t>(hkv) * (nk + spare) * d, kh = static_cast<int64_t>(nk + spare) * d;
        const int64_t qb = static_cast<int64_t>(nq) * h * d, qt = static_cast<int64_t>(h) * d;
        int s = attnzoo_softmax_forward(2, q, k, v, o, b, h, hkv, nq, nk, d, qb, qt, d, kb, d, kh, kb, d, kh, qb, qt, d,
                                        0.125f, causal, nk - nq, reinterpret_cast<uint64_t>(slopes), 0, 0);
        // the packed projection [B, N, (H + 2·Hkv)·d] of N = nq tokens, o [B, N, H·d]
        const int w = (h + 2 * hkv) * d;
        uint64_t qkv = random_tensor(static_cast<size_t>(b) * nq * w, 5);
        const int64_t pb = static_cast<int64_t>(nq) * w;
        s |= attnzoo_softmax_forward(2, qkv, qkv + 2ull * h * d, qkv + 2ull * (h + hkv) * d, o, b, h, hkv, nq, nq, d,
                                     pb, w, d, pb, w, d, pb, w, d, qb, qt, d, 0.125f, causal, 0, 0, 0, 0);
        cudaError_t err = cudaDeviceSynchronize();
        char msg[512];
        attnzoo_softmax_last_error(msg, sizeof(msg));
        printf("d=%d causal=%d nq=%d nk=%d: status %d sync %s %s\n", d, causal, nq, nk, s, cudaGetErrorString(err),
               s ? msg : "");
        failures += (s != 0) + (err != cudaSuccess);
        for (uint64_t p : {q, k, v, o, qkv}) cudaFree(reinterpret_cast<void*>(p));
      }
    }
  }
  cudaFree(slopes);
  return failures == 0 ? 0 : 1;
}
