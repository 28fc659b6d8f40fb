// Types shared by the runtime adapters and the public FFI module. Kept apart from mod.ts so the
// Bun adapter type-checks (tsconfig.bun.json) without pulling in the Deno adapter.
import type { FfiType, SymbolTable } from "../plugin.ts";

/** A value a native function accepts: numbers for 32-bit and float types, bigint or number for
 * 64-bit integers, a host typed array (or null) for "pointer" parameters. */
export type NativeArg =
  | number
  | bigint
  | Uint8Array
  | Float32Array
  | Uint16Array
  | Int32Array
  | BigUint64Array
  | null;

/** A bound native function; 64-bit integer and pointer results are bigint on every runtime. */
export type NativeFn = (...args: NativeArg[]) => number | bigint | void;

/** What a native result type becomes in JavaScript: bigint for 64-bit integers and pointers. */
export type NativeResult<T extends FfiType> = T extends "void" ? void
  : T extends "i64" | "u64" | "pointer" ? bigint
  : number;

/** The bound functions of a symbol table, each typed by its declared result. */
export type BoundSymbols<S extends SymbolTable> = {
  readonly [K in keyof S]: (...args: NativeArg[]) => NativeResult<S[K]["result"]>;
};

/** An open shared library and its bound functions. */
export interface NativeLibrary<S extends SymbolTable> extends Disposable {
  /** Path the library was opened from. */
  readonly path: string;
  /** Bound functions by symbol name; destructure once and call them directly. */
  readonly symbols: BoundSymbols<S>;
  /** Unloads the library; its functions must not be called afterwards. Idempotent. */
  close(): void;
}

/** What a runtime adapter provides: open a library or throw the runtime's own error. */
export interface FfiAdapter {
  /** Opens `path` and binds `symbols`; throws the runtime's error unchanged on failure. */
  open<S extends SymbolTable>(path: string, symbols: S): NativeLibrary<S>;
}
