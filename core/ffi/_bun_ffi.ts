// The part of bun:ffi the Bun adapter uses, declared here because Deno cannot resolve "bun:ffi".
// _bun_ffi_conformance.ts proves the real module matches (tsc -p tsconfig.bun.json).
import type { NativeArg } from "./_types.ts";

/** bun:ffi type names the adapter maps to. */
export type BunType = "i32" | "u32" | "i64" | "u64" | "f32" | "f64" | "ptr" | "void";

/** A library opened by bun:ffi. */
export interface BunLibrary {
  /** Bound functions by name. */
  readonly symbols: Record<string, (...args: NativeArg[]) => unknown>;
  /** Unloads the library. */
  close(): void;
}

/** The bun:ffi functions the adapter calls. */
export interface BunFfi {
  /** Opens `path` and binds `symbols`. */
  dlopen(path: string, symbols: Record<string, { args: BunType[]; returns: BunType }>): BunLibrary;
}
