// Deno adapter: Deno.dlopen. "pointer" parameters become "buffer" so typed arrays pass without
// copies; pointer results become bigint addresses so both runtimes return the same thing.
import type { FfiType, SymbolTable } from "../plugin.ts";
import type { BoundSymbols, FfiAdapter, NativeFn, NativeLibrary } from "./_types.ts";

type DenoParameter = Exclude<FfiType, "void" | "pointer"> | "buffer";
type DenoResult = Exclude<FfiType, "pointer"> | "pointer";

// openLibrary has already rejected "void" parameters.
function parameterType(type: FfiType): DenoParameter {
  return type === "pointer" ? "buffer" : type as DenoParameter;
}

function bind(raw: (...args: unknown[]) => unknown, result: FfiType): NativeFn {
  if (result !== "pointer") return raw as NativeFn;
  return (...args) => BigInt(Deno.UnsafePointer.value(raw(...args) as Deno.PointerValue));
}

/** Opens libraries with `Deno.dlopen`. */
export const denoAdapter: FfiAdapter = {
  open<S extends SymbolTable>(path: string, symbols: S): NativeLibrary<S> {
    const definitions: Record<string, { parameters: DenoParameter[]; result: DenoResult }> = {};
    for (const [name, symbol] of Object.entries(symbols)) {
      definitions[name] = { parameters: symbol.parameters.map(parameterType), result: symbol.result };
    }
    const library = Deno.dlopen(path, definitions);
    const raw = library.symbols as unknown as Record<string, (...args: unknown[]) => unknown>;
    const bound: Record<string, NativeFn> = {};
    for (const [name, symbol] of Object.entries(symbols)) bound[name] = bind(raw[name], symbol.result);
    let open = true;
    const close = () => {
      if (open) library.close();
      open = false;
    };
    return { path, symbols: bound as BoundSymbols<S>, close, [Symbol.dispose]: close };
  },
};
