// One place that turns the run-time dtype, head dim, causal flag and ALiBi presence into the
// compile-time kernel variant: `launch.template run<T, D, CAUSAL, ALIBI>()` for the matching one.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "_runtime.h"

namespace flash_sigmoid {

template <typename T, int D, bool CAUSAL, typename Launch>
int dispatch_alibi(bool alibi, const Launch& launch) {
  return alibi ? launch.template run<T, D, CAUSAL, true>() : launch.template run<T, D, CAUSAL, false>();
}

template <typename T, int D, typename Launch>
int dispatch_causal(bool causal, bool alibi, const Launch& launch) {
  return causal ? dispatch_alibi<T, D, true>(alibi, launch) : dispatch_alibi<T, D, false>(alibi, launch);
}

template <typename T, typename Launch>
int dispatch_head_dim(int head_dim, bool causal, bool alibi, const Launch& launch) {
  return head_dim == 64 ? dispatch_causal<T, 64>(causal, alibi, launch)
                        : dispatch_causal<T, 128>(causal, alibi, launch);
}

// dtype is AZ_BF16 or AZ_F16 and head_dim 64 or 128, as make_problem has checked.
template <typename Launch>
int dispatch_variant(int dtype, int head_dim, bool causal, bool alibi, const Launch& launch) {
  return dtype == AZ_BF16 ? dispatch_head_dim<__nv_bfloat16>(head_dim, causal, alibi, launch)
                          : dispatch_head_dim<__half>(head_dim, causal, alibi, launch);
}

}  // namespace flash_sigmoid
