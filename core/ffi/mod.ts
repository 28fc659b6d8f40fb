/**
 * Runtime-neutral FFI: one symbol table format, bound through `Deno.dlopen` under Deno and
 * `bun:ffi` under Bun. Conventions (see README.md): "pointer" parameters take host typed arrays
 * used only during the call; device memory is an opaque u64 handle; 64-bit results are bigint;
 * native functions return an i32 status that {@linkcode check} turns into a {@linkcode NativeError}.
 *
 * @module
 */
import { NativeError } from "../errors.ts";
import type { SymbolTable } from "../plugin.ts";
import type { FfiAdapter, NativeLibrary } from "./_types.ts";
import { findMissingSymbols } from "./_missing.ts";

export type { FfiSymbol, FfiType, SymbolTable } from "../plugin.ts";
export type { NativeArg, NativeFn, NativeLibrary } from "./_types.ts";
export { check, readLastError } from "./_status.ts";

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

const adapter: FfiAdapter = isDeno ? (await import("./_deno.ts")).denoAdapter : (await import("./_bun.ts")).bunAdapter;

/** The JavaScript runtime the FFI adapter targets. */
export function runtimeName(): "deno" | "bun" {
  return isDeno ? "deno" : "bun";
}

/**
 * Opens the shared library at `path` and binds `symbols` (synchronously). Throws
 * {@linkcode NativeError} (op "openLibrary", code -1) naming the path and either the symbols the
 * library lacks or, when nothing binds (no such file, bad ELF, no symbol found), the loader's message.
 */
export function openLibrary<S extends SymbolTable>(path: string, symbols: S): NativeLibrary<S> {
  try {
    return adapter.open(path, symbols);
  } catch (error) {
    const osMessage = error instanceof Error ? error.message : String(error);
    const missing = findMissingSymbols(adapter, path, symbols);
    const partial = missing.length > 0 && missing.length < Object.keys(symbols).length;
    const detail = partial ? `missing symbol${missing.length > 1 ? "s" : ""} ${missing.join(", ")}` : osMessage;
    throw new NativeError("openLibrary", -1, `${path}: ${detail}`);
  }
}
