// Matrix products through cuBLASLt: f32, f16 and bf16 storage with f32 accumulation (f32 runs in
// full f32, not TF32), strided batches, transposes, and cuBLASLt's fused
// bias and tanh-GELU epilogues. cuBLASLt is column-major: the row-major product C = A·B is
// computed as the column-major Cᵀ = Bᵀ·Aᵀ, which reads the same buffers with no copies.
// Descriptors and the heuristic's algorithm are cached per problem shape, so a repeated product
// costs one cublasLtMatmul call.
#include <memory>
#include <unordered_map>

#include "_cublaslt.h"
#include "_gemm.h"
#include "_runtime.h"

namespace {

constexpr size_t kWorkspaceBytes = 32u << 20;

cublasLtHandle_t handle = nullptr;
void* workspace = nullptr;

#define AZ_LT_CHECK(op, call)                                                                                          \
  do {                                                                                                                 \
    cublasStatus_t az_st_ = (call);                                                                                    \
    if (az_st_ != CUBLAS_STATUS_SUCCESS) return az_fail(AZ_CUBLAS, op, "cuBLASLt status %d (%s)", (int)az_st_, #call); \
  } while (0)

int ensure_handle(const char* op) {
  if (handle != nullptr) return AZ_OK;
  AZ_LT_CHECK(op, cublasLtCreate(&handle));
  AZ_CUDA_CHECK(op, cudaMalloc(&workspace, kWorkspaceBytes));
  return AZ_OK;
}

// Largest power of two (at most 256) dividing the address and every batch step: what the
// heuristic may assume about a matrix.
uint32_t alignment_of(const void* p, int64_t stride_bytes) {
  uint64_t bits = reinterpret_cast<uint64_t>(p) | (uint64_t)stride_bytes | 256u;
  return (uint32_t)(bits & (~bits + 1));
}

// Owns the descriptors of one call so every exit path destroys them.
struct Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  cublasLtMatmulAlgo_t algo{};
  ~Plan() {
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (desc) cublasLtMatmulDescDestroy(desc);
  }
};

// Everything the descriptors and the algorithm choice depend on.
struct PlanKey {
  int64_t v[14];
  bool operator==(const PlanKey& o) const {
    for (int i = 0; i < 14; i++) {
      if (v[i] != o.v[i]) return false;
    }
    return true;
  }
};

struct PlanKeyHash {
  size_t operator()(const PlanKey& key) const {
    uint64_t h = 1469598103934665603ull;  // FNV-1a over the fields
    for (int64_t x : key.v) h = (h ^ (uint64_t)x) * 1099511628211ull;
    return (size_t)h;
  }
};

constexpr size_t kMaxPlans = 1024;
std::unordered_map<PlanKey, std::unique_ptr<Plan>, PlanKeyHash> plans;

int make_layout(const char* op, cublasLtMatrixLayout_t* layout, cudaDataType_t type, uint64_t rows, uint64_t cols,
                int64_t ld, int32_t batch, int64_t stride) {
  AZ_LT_CHECK(op, cublasLtMatrixLayoutCreate(layout, type, rows, cols, ld));
  if (batch > 1) {
    AZ_LT_CHECK(op,
                cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof batch));
    AZ_LT_CHECK(op, cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
                                                     sizeof stride));
  }
  return AZ_OK;
}

}  // namespace

int az_gemm(const char* op, int dtype, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, int64_t batch,
            const void* a, int64_t stride_a, const void* b, int64_t stride_b, void* c, int64_t stride_c,
            const void* bias, bool gelu, float alpha) {
  AZ_REQUIRE_FLOAT(op, dtype);
  if (m < 0 || n < 0 || k < 0 || batch < 0) return az_fail(AZ_INVALID, op, "negative extent");
  if (batch > 2147483647LL) return az_fail(AZ_INVALID, op, "batch %lld too large", (long long)batch);
  if (m == 0 || n == 0 || batch == 0) return AZ_OK;
  if (int status = ensure_handle(op)) return status;
  const cudaDataType_t type = dtype == AZ_F32 ? CUDA_R_32F : dtype == AZ_F16 ? CUDA_R_16F : CUDA_R_16BF;
  const int64_t elem = az_dtype_size(dtype);
  if (k == 0) {
    // an empty sum is 0, which cuBLASLt does not promise for k = 0
    if (bias != nullptr || gelu) return az_fail(AZ_INVALID, op, "k = 0 with a bias/GELU epilogue");
    for (int64_t i = 0; i < batch; i++) {
      AZ_CUDA_CHECK(op, cudaMemsetAsync(static_cast<char*>(c) + i * stride_c * elem, 0, m * n * elem, az_stream()));
    }
    return AZ_OK;
  }
  const uint32_t align_first = alignment_of(b, stride_b * elem), align_second = alignment_of(a, stride_a * elem);
  const uint32_t align_c = alignment_of(c, stride_c * elem);
  const cublasLtEpilogue_t epilogue = bias != nullptr ? (gelu ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_BIAS)
                                                      : (gelu ? CUBLASLT_EPILOGUE_GELU : CUBLASLT_EPILOGUE_DEFAULT);
  const PlanKey key{{dtype, trans_a, trans_b, m, n, k, batch, stride_a, stride_b, stride_c, align_first, align_second,
                     align_c, (int64_t)epilogue}};
  Plan* plan = nullptr;
  auto cached = plans.find(key);
  if (cached != plans.end()) {
    plan = cached->second.get();
  } else {
    auto fresh = std::make_unique<Plan>();
    Plan& p = *fresh;
    AZ_LT_CHECK(op, cublasLtMatmulDescCreate(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    // column-major view: "A" is our B (op(B)ᵀ is n×k), "B" is our A (op(A)ᵀ is k×m)
    const cublasOperation_t op_first = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_second = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    AZ_LT_CHECK(op, cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_first, sizeof op_first));
    AZ_LT_CHECK(op, cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_second, sizeof op_second));
    AZ_LT_CHECK(op, cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue));
    if (bias != nullptr) {
      AZ_LT_CHECK(op, cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    }
    const int32_t count = (int32_t)batch;
    // stored shapes (column-major): B's buffer is n×k (ld n) or, transposed, k×n (ld k); A's likewise
    if (int s = make_layout(op, &p.a, type, trans_b ? k : n, trans_b ? n : k, trans_b ? k : n, count, stride_b))
      return s;
    if (int s = make_layout(op, &p.b, type, trans_a ? m : k, trans_a ? k : m, trans_a ? m : k, count, stride_a))
      return s;
    if (int s = make_layout(op, &p.c, type, n, m, n, count, stride_c)) return s;
    AZ_LT_CHECK(op, cublasLtMatmulPreferenceCreate(&p.pref));
    uint64_t ws = kWorkspaceBytes;
    AZ_LT_CHECK(op,
                cublasLtMatmulPreferenceSetAttribute(p.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    AZ_LT_CHECK(op, cublasLtMatmulPreferenceSetAttribute(p.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
                                                         &align_first, sizeof align_first));
    AZ_LT_CHECK(op, cublasLtMatmulPreferenceSetAttribute(p.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                                                         &align_second, sizeof align_second));
    AZ_LT_CHECK(op, cublasLtMatmulPreferenceSetAttribute(p.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_c,
                                                         sizeof align_c));
    AZ_LT_CHECK(op, cublasLtMatmulPreferenceSetAttribute(p.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_c,
                                                         sizeof align_c));
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    AZ_LT_CHECK(op, cublasLtMatmulAlgoGetHeuristic(handle, p.desc, p.a, p.b, p.c, p.c, p.pref, 1, &result, &found));
    if (found == 0) {
      return az_fail(AZ_CUBLAS, op, "cuBLASLt has no algorithm for m=%lld n=%lld k=%lld batch=%lld dtype %d",
                     (long long)m, (long long)n, (long long)k, (long long)batch, dtype);
    }
    p.algo = result.algo;
    if (plans.size() >= kMaxPlans) plans.clear();
    plan = fresh.get();
    plans.emplace(key, std::move(fresh));
  }
  if (bias != nullptr) {
    // the bias address changes between calls that share a plan
    AZ_LT_CHECK(op, cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
  }
  const float beta = 0.0f;
  AZ_LT_CHECK(op, cublasLtMatmul(handle, plan->desc, &alpha, b, plan->a, a, plan->b, &beta, c, plan->c, c, plan->c,
                                 &plan->algo, workspace, kWorkspaceBytes, az_stream()));
  return AZ_OK;
}

/**
 * Row-major batched product: C[i] = alpha · op(A[i]) @ op(B[i]) (+ bias[N]) (then tanh-GELU when
 * `gelu` is 1); op(A) is [M, K], op(B) is [K, N]; strides between batch entries are in elements;
 * bias 0 means none. alpha scales the f32 accumulator, so a scaled product costs no extra pass.
 */
AZ_API int attnzoo_matmul(int dtype, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, int64_t batch,
                          uint64_t a, int64_t stride_a, uint64_t b, int64_t stride_b, uint64_t c, int64_t stride_c,
                          uint64_t bias, int gelu, float alpha) {
  return az_gemm("matmul", dtype, trans_a != 0, trans_b != 0, m, n, k, batch, az_ptr<const void>(a), stride_a,
                 az_ptr<const void>(b), stride_b, az_ptr<void>(c), stride_c, az_ptr<const void>(bias), gelu != 0,
                 alpha);
}
