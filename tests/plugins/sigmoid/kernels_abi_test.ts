// The sigmoid manifest's symbol table matches the C signatures of the FlashSigmoid exports,
// parameter by parameter: FFI binds by position, so one missing or mistyped argument (the varlen
// export's offsets, say) would shift every later one. No GPU needed.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { plugin } from "../../../plugins/sigmoid/mod.ts";
import { assert, assertEquals } from "../../_assert.ts";
import { test } from "../../_harness.ts";

/** FFI type of each C parameter type the exports use. */
const C_TYPES: Record<string, string> = {
  int: "i32",
  float: "f32",
  uint64_t: "u64",
  int64_t: "i64",
  "char*": "pointer",
};

/** `AZ_API` exports of the plugin's sources: name → [result type, parameter types] in FFI terms. */
function exports(): Map<string, [string, string[]]> {
  const out = new Map<string, [string, string[]]>();
  for (const source of plugin.kernels.sources) {
    const text = readFileSync(fileURLToPath(new URL(`../../../plugins/sigmoid/${source}`, import.meta.url)), "utf8");
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

test("sigmoid kernels: the manifest declares every export with the C signature's parameter types", () => {
  const found = exports();
  assertEquals([...found.keys()].sort(), Object.keys(plugin.kernels.symbols).sort(), "exported names");
  for (const [name, [result, parameters]] of found) {
    const declared = plugin.kernels.symbols[name];
    assertEquals(declared.result as string, result, `${name} result`);
    assertEquals(declared.parameters as string[], parameters, `${name} parameters`);
  }
});
