/**
 * Runtime-neutral FFI: one symbol table format, bound through `Deno.dlopen` under Deno and
 * `bun:ffi` under Bun. Conventions (see README.md): "pointer" parameters take host typed arrays
 * used only during the call; device memory is an opaque u64 handle; 64-bit results are bigint;
 * native functions return an i32 status that {@linkcode check} turns into a {@linkcode NativeError}.
 *
 * @module
 */
import { ConfigError, NativeError } from "../errors.ts";
import { FfiTypeSchema, type SymbolTable } from "../plugin.ts";
import type { FfiAdapter, NativeLibrary } from "./_types.ts";
import { findMissingSymbols } from "./_missing.ts";
import { bunAdapter } from "./_bun.ts";
import { denoAdapter } from "./_deno.ts";

export type { FfiSymbol, FfiType, SymbolTable } from "../plugin.ts";
export type { BoundSymbols, NativeArg, NativeFn, NativeLibrary, NativeResult } from "./_types.ts";
export { check, readLastError } from "./_status.ts";

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

// Both adapters load statically (neither touches its runtime's FFI until it opens a library), so
// this module has no top-level await.
const adapter: FfiAdapter = isDeno ? denoAdapter : bunAdapter;

/** The JavaScript runtime the FFI adapter targets. */
export function runtimeName(): "deno" | "bun" {
  return isDeno ? "deno" : "bun";
}

/**
 * Opens the shared library at `path` and binds `symbols` (synchronously). Throws
 * {@linkcode NativeError} (op "openLibrary", code -1) naming the path and either the symbols the
 * library lacks or, when nothing binds (no such file, bad ELF, no symbol found), the loader's message.
 * A malformed table (unknown type, "void" parameter, empty table) is a {@linkcode ConfigError}.
 */
export function openLibrary<S extends SymbolTable>(path: string, symbols: S): NativeLibrary<S> {
  validateSymbols(path, symbols);
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

const types: ReadonlySet<string> = new Set(FfiTypeSchema.options);

// Checked here so the adapters can map types blindly and a bad table is never mistaken for a
// missing symbol.
function validateSymbols(path: string, symbols: SymbolTable): void {
  const source = `symbol table for ${path}`;
  const names = Object.keys(symbols);
  if (names.length === 0) throw new ConfigError(source, "", "declares no symbols");
  for (const name of names) {
    const { parameters, result } = symbols[name];
    parameters.forEach((type, i) => {
      if (!types.has(type) || type === "void") {
        throw new ConfigError(source, `${name}.parameters[${i}]`, `"${type}" is not a parameter type`);
      }
    });
    if (!types.has(result)) throw new ConfigError(source, `${name}.result`, `"${result}" is not a result type`);
  }
}
