// Loaders report a missing symbol in runtime-specific words; re-binding symbol by symbol names
// exactly the ones a library lacks, on both runtimes. Runs only after a failed open.
import type { SymbolTable } from "../plugin.ts";
import type { FfiAdapter } from "./_types.ts";

/**
 * Symbols of `symbols` that fail to bind on their own. When every symbol fails (the library does
 * not load, or exports none of them) the caller reports the loader's own message instead.
 */
export function findMissingSymbols(adapter: FfiAdapter, path: string, symbols: SymbolTable): string[] {
  return Object.keys(symbols).filter((name) => !binds(adapter, path, { [name]: symbols[name] }));
}

function binds(adapter: FfiAdapter, path: string, symbols: SymbolTable): boolean {
  try {
    adapter.open(path, symbols).close();
    return true;
  } catch {
    return false;
  }
}
