// Bun adapter: bun:ffi dlopen. bun:ffi is loaded with Bun's synchronous import.meta.require on
// first use, so it is no part of the module graph that Deno type-checks and `deno publish`
// analyses; tsconfig.bun.json checks _bun_ffi.ts against the real bun:ffi types.
import type { FfiType, SymbolTable } from "../plugin.ts";
import type { BunFfi, BunType } from "./_bun_ffi.ts";
import type { BoundSymbols, FfiAdapter, NativeArg, NativeFn, NativeLibrary } from "./_types.ts";

let bunFfi: BunFfi | undefined;

function loadBunFfi(): BunFfi {
  return bunFfi ??= (import.meta as unknown as { require(id: string): unknown }).require("bun:ffi") as BunFfi;
}

// u64/i64 (not the _fast variants) already return bigint; pointer results come back as numbers.
const bunTypes: Record<FfiType, BunType> = {
  i32: "i32",
  u32: "u32",
  i64: "i64",
  u64: "u64",
  f32: "f32",
  f64: "f64",
  pointer: "ptr",
  void: "void",
};

function bind(raw: (...args: NativeArg[]) => unknown, result: FfiType): NativeFn {
  if (result !== "pointer") return raw as NativeFn;
  return (...args) => BigInt((raw(...args) as number | null) ?? 0);
}

/** Opens libraries with bun:ffi `dlopen`. */
export const bunAdapter: FfiAdapter = {
  open<S extends SymbolTable>(path: string, symbols: S): NativeLibrary<S> {
    const definitions: Record<string, { args: BunType[]; returns: BunType }> = {};
    for (const [name, symbol] of Object.entries(symbols)) {
      definitions[name] = { args: symbol.parameters.map((t) => bunTypes[t]), returns: bunTypes[symbol.result] };
    }
    const library = loadBunFfi().dlopen(path, definitions);
    const bound: Record<string, NativeFn> = {};
    for (const [name, symbol] of Object.entries(symbols)) bound[name] = bind(library.symbols[name], symbol.result);
    let open = true;
    const close = () => {
      if (open) library.close();
      open = false;
    };
    return { path, symbols: bound as BoundSymbols<S>, close, [Symbol.dispose]: close };
  },
};
