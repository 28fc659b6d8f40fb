// The C ABI of libattnzoo_runtime.so (kernels/*.cu): every function returns an i32 status (0 ok);
// device memory crosses as u64 handles, shapes and outputs as host typed arrays ("pointer").
import type { DType } from "../../dtype.ts";
import type { FfiSymbol } from "../../plugin.ts";

const I32 = "i32" as const;
const I64 = "i64" as const;
const U64 = "u64" as const;
const F32 = "f32" as const;
const F64 = "f64" as const;
const PTR = "pointer" as const;

function fn(...parameters: FfiSymbol["parameters"]): FfiSymbol {
  return { parameters, result: I32 };
}

/** Names of the runtime library's exports. */
export type RuntimeSymbol =
  | "attnzoo_last_error"
  | "attnzoo_init"
  | "attnzoo_device_info"
  | "attnzoo_alloc"
  | "attnzoo_free"
  | "attnzoo_upload"
  | "attnzoo_download"
  | "attnzoo_synchronize"
  | "attnzoo_stream"
  | "attnzoo_memory_stats"
  | "attnzoo_reset_peak"
  | "attnzoo_empty_cache"
  | "attnzoo_binary"
  | "attnzoo_unary"
  | "attnzoo_affine"
  | "attnzoo_gelu"
  | "attnzoo_softplus"
  | "attnzoo_cast"
  | "attnzoo_matmul"
  | "attnzoo_layer_norm"
  | "attnzoo_rms_norm"
  | "attnzoo_softmax"
  | "attnzoo_reduce"
  | "attnzoo_embedding"
  | "attnzoo_conv2d"
  | "attnzoo_causal_conv1d"
  | "attnzoo_adaptive_avg_pool2d"
  | "attnzoo_resize_bilinear"
  | "attnzoo_permute"
  | "attnzoo_copy_2d"
  | "attnzoo_sample_tokens"
  | "attnzoo_rope";

/** Signatures of the runtime library's exports. */
export const RUNTIME_SYMBOLS: Readonly<Record<RuntimeSymbol, FfiSymbol>> = {
  attnzoo_last_error: fn(PTR, I32),
  attnzoo_init: fn(I32),
  attnzoo_device_info: fn(PTR, I32, PTR),
  attnzoo_alloc: fn(U64, PTR),
  attnzoo_free: fn(U64),
  attnzoo_upload: fn(U64, PTR, U64),
  attnzoo_download: fn(PTR, U64, U64),
  attnzoo_synchronize: fn(),
  attnzoo_stream: fn(PTR),
  attnzoo_memory_stats: fn(PTR),
  attnzoo_reset_peak: fn(),
  attnzoo_empty_cache: fn(),
  // op, dtype, ndim, out_shape, a, a_strides, b, b_strides, out
  attnzoo_binary: fn(I32, I32, I32, PTR, U64, PTR, U64, PTR, U64),
  attnzoo_unary: fn(I32, I32, U64, U64, I64),
  attnzoo_affine: fn(I32, U64, U64, I64, F32, F32),
  attnzoo_gelu: fn(I32, I32, U64, U64, I64),
  attnzoo_softplus: fn(I32, U64, U64, I64, F32, F32),
  attnzoo_cast: fn(I32, I32, U64, U64, I64),
  // dtype, transA, transB, m, n, k, batch, a, strideA, b, strideB, c, strideC, bias, gelu, alpha
  attnzoo_matmul: fn(I32, I32, I32, I64, I64, I64, I64, U64, I64, U64, I64, U64, I64, U64, I32, F32),
  attnzoo_layer_norm: fn(I32, U64, U64, U64, U64, I64, I64, F32),
  attnzoo_rms_norm: fn(I32, U64, U64, U64, I64, I64, F32),
  attnzoo_softmax: fn(I32, U64, U64, I64, I64, I64),
  attnzoo_reduce: fn(I32, I32, U64, U64, I64, I64, I64),
  attnzoo_embedding: fn(I32, U64, U64, U64, I64, I64, I64),
  // dtype, x, weight, bias, out, geometry[12]
  attnzoo_conv2d: fn(I32, U64, U64, U64, U64, PTR),
  attnzoo_causal_conv1d: fn(I32, U64, U64, U64, U64, I64, I64, I64, I64),
  attnzoo_adaptive_avg_pool2d: fn(I32, U64, U64, I64, I64, I64, I64, I64),
  attnzoo_resize_bilinear: fn(I32, U64, U64, I64, I64, I64, I64, I64, I32),
  attnzoo_permute: fn(I32, I32, PTR, PTR, U64, U64),
  attnzoo_copy_2d: fn(U64, U64, U64, U64, U64, U64),
  // dtype, logits, uniforms (host f64), out, rows, vocab, temperature, topK, topP
  attnzoo_sample_tokens: fn(I32, U64, PTR, U64, I64, I64, F64, I64, F64),
  // dtype, x, out, rows, tokens, dim, offset, theta
  attnzoo_rope: fn(I32, U64, U64, I64, I64, I64, I64, F64),
};

/** Dtype codes of kernels/_runtime.h. */
export const DTYPE_CODE: Readonly<Record<DType, number>> = { f32: 0, f16: 1, bf16: 2, i32: 3 };

/** Most dims an op's shape may have in the kernels' fixed-size argument structs. */
export const MAX_DIMS = 8;
