// The part of Deno's FFI the Deno adapter uses, declared here so the library also type-checks
// where Deno's global types are absent (tsc with bun-types). tests/ffi/_deno_ffi_conformance.ts
// proves the real `Deno` namespace matches (deno check tests/).
import type { NativeArg } from "./_types.ts";

/** Deno FFI parameter types the adapter maps to ("buffer" takes typed arrays). */
export type DenoParameter = "i32" | "u32" | "i64" | "u64" | "f32" | "f64" | "buffer";

/** Deno FFI result types the adapter maps to. */
export type DenoResult = "i32" | "u32" | "i64" | "u64" | "f32" | "f64" | "pointer" | "void";

/** A library opened by `Deno.dlopen`. */
export interface DenoLibrary {
  /** Bound functions by name. */
  readonly symbols: Record<string, (...args: NativeArg[]) => unknown>;
  /** Unloads the library. */
  close(): void;
}

/** The `Deno` functions the adapter calls. */
export interface DenoFfi {
  /** Opens `path` and binds `symbols`. */
  dlopen(path: string, symbols: Record<string, { parameters: DenoParameter[]; result: DenoResult }>): DenoLibrary;
  /** Pointer helpers. */
  UnsafePointer: {
    /** The address of a pointer result (null for NULL). */
    value(pointer: never): number | bigint;
  };
}
