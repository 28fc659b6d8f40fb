// One place that turns the run-time dtype, head dim, causal flag and ALiBi presence into the
// compile-time kernel variant: `launch.template run<T, D, CAUSAL, ALIBI>()` for the matching one.
// Each kernel family names the head dims it is built for (HeadDims); the default is 64 and 128.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "_runtime.h"

namespace flash_sigmoid {

// A family's head dims: the variants instantiated, and what its entry points accept.
template <int... DIMS>
struct HeadDims {
  static bool contains(int head_dim) { return ((head_dim == DIMS) || ...); }
};

using DefaultHeadDims = HeadDims<64, 128>;             // wgmma forward, backward
using TiledHeadDims = HeadDims<32, 64, 96, 128, 256>;  // mma.sync forward, decode

template <typename T, int D, bool CAUSAL, typename Launch>
int dispatch_alibi(bool alibi, const Launch& launch) {
  return alibi ? launch.template run<T, D, CAUSAL, true>() : launch.template run<T, D, CAUSAL, false>();
}

template <typename T, int D, typename Launch>
int dispatch_causal(bool causal, bool alibi, const Launch& launch) {
  return causal ? dispatch_alibi<T, D, true>(alibi, launch) : dispatch_alibi<T, D, false>(alibi, launch);
}

// The variant of the first of DIMS equal to head_dim (the caller has checked it is one of them).
template <typename T, typename Launch, int FIRST, int... REST>
int dispatch_head_dim(int head_dim, bool causal, bool alibi, const Launch& launch) {
  if constexpr (sizeof...(REST) == 0) {
    return dispatch_causal<T, FIRST>(causal, alibi, launch);
  } else {
    return head_dim == FIRST ? dispatch_causal<T, FIRST>(causal, alibi, launch)
                             : dispatch_head_dim<T, Launch, REST...>(head_dim, causal, alibi, launch);
  }
}

template <typename T, typename Launch, int... DIMS>
int dispatch_dims(HeadDims<DIMS...>, int head_dim, bool causal, bool alibi, const Launch& launch) {
  return dispatch_head_dim<T, Launch, DIMS...>(head_dim, causal, alibi, launch);
}

// dtype is AZ_BF16 or AZ_F16 and head_dim one of Dims, as make_problem has checked.
template <typename Dims = DefaultHeadDims, typename Launch>
int dispatch_variant(int dtype, int head_dim, bool causal, bool alibi, const Launch& launch) {
  return dtype == AZ_BF16 ? dispatch_dims<__nv_bfloat16>(Dims{}, head_dim, causal, alibi, launch)
                          : dispatch_dims<__half>(Dims{}, head_dim, causal, alibi, launch);
}

}  // namespace flash_sigmoid
