// Small runs of every lightning entry point for compute-sanitizer (memcheck, racecheck): ragged
// lengths, each head dim, both value-slice widths (32 for few CTAs, 64 for ≥ 1 CTA per SM),
// strided token-major operands, states in and out, sequence segments (with the workspace) and one
// CTA per slice (without), the bidirectional form and decode steps.
// Exits 1 on any non-zero status or CUDA error.
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

#include <vector>

extern "C" int attnzoo_lightning_forward(int, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
                                         int, int, int, int, int, int, int64_t, int64_t, int64_t, int64_t, int64_t,
                                         int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, uint64_t,
                                         int64_t, uint64_t);
extern "C" int64_t attnzoo_lightning_workspace(int, int, int, int, int);
extern "C" int attnzoo_lightning_step(int, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, int, int, int,
                                      int, int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                      int64_t, int64_t, int64_t, int64_t, uint64_t);
extern "C" int attnzoo_lightning_last_error(char*, int);

template <typename T>
static uint64_t device_array(size_t n, unsigned seed, float scale) {
  std::vector<T> host(n);
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1664525u + 1013904223u;
    host[i] = static_cast<T>(scale * (static_cast<float>(seed >> 8) / 16777216.0f - 0.5f));
  }
  void* p = nullptr;
  if (cudaMalloc(&p, n * sizeof(T)) != cudaSuccess) return 0;
  cudaMemcpy(p, host.data(), n * sizeof(T), cudaMemcpyHostToDevice);
  return reinterpret_cast<uint64_t>(p);
}

int main() {
  int failures = 0;
  struct Case {
    int batch, heads, n, d, e;
  };
  // 2 × 33 heads × 2 slices of 64 = 132 CTAs: the 64-wide path on an H100; the others run 32-wide
  for (Case c :
       {Case{1, 2, 77, 64, 64}, Case{2, 33, 77, 128, 128}, Case{1, 3, 130, 256, 128}, Case{2, 2, 1, 128, 64}}) {
    // token-major operands [B, N, H, ·] as the mixer passes them
    const int64_t qt = static_cast<int64_t>(c.heads) * c.d, vt = static_cast<int64_t>(c.heads) * c.e;
    const size_t nq = static_cast<size_t>(c.batch) * c.n * qt, nv = static_cast<size_t>(c.batch) * c.n * vt;
    uint64_t q = device_array<__nv_bfloat16>(nq, 1, 1.0f), k = device_array<__nv_bfloat16>(nq, 2, 1.0f);
    uint64_t v = device_array<__nv_bfloat16>(nv, 3, 1.0f), o = device_array<__nv_bfloat16>(nv, 4, 1.0f);
    uint64_t rates = device_array<float>(c.heads, 5, 0.5f);
    std::vector<float> r(c.heads);  // decay rates must be ≥ 0
    for (int h = 0; h < c.heads; h++) r[h] = 0.05f + 0.3f * h / c.heads;
    cudaMemcpy(reinterpret_cast<void*>(rates), r.data(), r.size() * sizeof(float), cudaMemcpyHostToDevice);
    uint64_t state = device_array<float>(static_cast<size_t>(c.batch) * c.heads * c.d * c.e, 6, 1.0f);
    const int64_t qb = c.n * qt, vb = c.n * vt;
    const int64_t bytes = attnzoo_lightning_workspace(c.batch, c.heads, c.n, c.d, c.e);
    void* workspace = nullptr;
    if (bytes > 0) cudaMalloc(&workspace, bytes);
    const uint64_t ws = reinterpret_cast<uint64_t>(workspace);
    int status = bytes < 0 ? 1 : 0;
    // with the workspace (segments, the final state through the spare slot) and without
    status |= attnzoo_lightning_forward(2, q, k, v, o, rates, state, state, c.batch, c.heads, c.n, c.d, c.e, 0, qb,
                                        c.d, qt, qb, c.d, qt, vb, c.e, vt, vb, c.e, vt, ws, bytes, 0);
    status |= attnzoo_lightning_forward(2, q, k, v, o, rates, state, state, c.batch, c.heads, c.n, c.d, c.e, 0, qb,
                                        c.d, qt, qb, c.d, qt, vb, c.e, vt, vb, c.e, vt, 0, 0, 0);
    status |= attnzoo_lightning_forward(2, q, k, v, o, rates, 0, 0, c.batch, c.heads, c.n, c.d, c.e, 1, qb, c.d, qt,
                                        qb, c.d, qt, vb, c.e, vt, vb, c.e, vt, ws, bytes, 0);
    status |= attnzoo_lightning_step(2, q, k, v, o, rates, state, c.batch, c.heads, c.n < 3 ? c.n : 3, c.d, c.e, qb,
                                     c.d, qt, qb, c.d, qt, vb, c.e, vt, vb, c.e, vt, 0);
    cudaError_t err = cudaDeviceSynchronize();
    char msg[512];
    attnzoo_lightning_last_error(msg, sizeof(msg));
    printf("B %d H %d N %d d %d e %d, workspace %lld bytes: status %d, %s%s\n", c.batch, c.heads, c.n, c.d, c.e,
           static_cast<long long>(bytes), status, cudaGetErrorString(err), status != 0 ? msg : "");
    if (status != 0 || err != cudaSuccess) failures++;
    for (uint64_t p : {q, k, v, o, rates, state, ws}) cudaFree(reinterpret_cast<void*>(p));
  }
  return failures == 0 ? 0 : 1;
}
