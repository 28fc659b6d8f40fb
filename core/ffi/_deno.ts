// Deno adapter: Deno.dlopen. "pointer" parameters become "buffer" so typed arrays pass without
// copies; pointer results become bigint addresses so both runtimes return the same thing.
import type { FfiType, SymbolTable } from "../plugin.ts";
import type { DenoFfi, DenoParameter, DenoResult } from "./_deno_ffi.ts";
import type { BoundSymbols, FfiAdapter, NativeArg, NativeFn, NativeLibrary } from "./_types.ts";

// Read when a library is opened, so this module loads under Bun too.
function deno(): DenoFfi {
  return (globalThis as unknown as { Deno: DenoFfi }).Deno;
}

// openLibrary has already rejected "void" parameters.
function parameterType(type: FfiType): DenoParameter {
  return type === "pointer" ? "buffer" : type as DenoParameter;
}

function bind(raw: (...args: NativeArg[]) => unknown, result: FfiType): NativeFn {
  if (result !== "pointer") return raw as NativeFn;
  const { UnsafePointer } = deno();
  return (...args) => BigInt(UnsafePointer.value(raw(...args) as never));
}

/** Opens libraries with `Deno.dlopen`. */
export const denoAdapter: FfiAdapter = {
  open<S extends SymbolTable>(path: string, symbols: S): NativeLibrary<S> {
    const definitions: Record<string, { parameters: DenoParameter[]; result: DenoResult }> = {};
    for (const [name, symbol] of Object.entries(symbols)) {
      definitions[name] = { parameters: symbol.parameters.map(parameterType), result: symbol.result };
    }
    const library = deno().dlopen(path, definitions);
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
