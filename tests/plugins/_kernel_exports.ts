// The C side of a plugin's kernel table: the `AZ_API` exports of its sources with their parameter
// types in FFI terms, so a test can hold the manifest's symbol table against them parameter by
// parameter (FFI binds by position: one missing or mistyped argument shifts every later one).
import { readFileSync } from "node:fs";
import type { FfiSymbol } from "../../core/ffi/mod.ts";
import { assert, assertEquals } from "../_assert.ts";

/** FFI type of each C parameter type the exports use. */
const C_TYPES: Record<string, string> = {
  int: "i32",
  float: "f32",
  uint64_t: "u64",
  int64_t: "i64",
  "char*": "pointer",
};

/** `AZ_API` exports of `sources` (paths relative to `pluginDir`): name → [result, parameter types]. */
export function cExports(pluginDir: URL, sources: readonly string[]): Map<string, [string, string[]]> {
  const out = new Map<string, [string, string[]]>();
  for (const source of sources) {
    const text = readFileSync(new URL(source, pluginDir), "utf8");
    for (const match of text.matchAll(/AZ_API (\w+) (attnzoo_\w+)\(([^)]*)\)/g)) {
      const parameters = match[3].split(",").map((p) => {
        const words = p.trim().replace(/\*/g, "* ").split(/\s+/).filter((w) => w !== "const");
        const type = words.slice(0, -1).join("").replace(/\s/g, "");
        assert(type in C_TYPES, `${match[2]}: C type "${type}" has no FFI mapping`);
        return C_TYPES[type];
      });
      out.set(match[2], [C_TYPES[match[1]], parameters]);
    }
  }
  return out;
}

/** The manifest's symbols are exactly the sources' exports, each with the C signature's types. */
export function assertSymbolsMatchExports(
  symbols: Readonly<Record<string, FfiSymbol>>,
  pluginDir: URL,
  sources: readonly string[],
): void {
  const found = cExports(pluginDir, sources);
  assertEquals([...found.keys()].sort(), Object.keys(symbols).sort(), "exported names");
  for (const [name, [result, parameters]] of found) {
    assertEquals(symbols[name].result as string, result, `${name} result`);
    assertEquals(symbols[name].parameters as string[], parameters, `${name} parameters`);
  }
}
