// Builds tests/ffi/testlib.c with the system C compiler into a temp dir, once per test file, and
// declares its symbol table. Without a compiler the FFI tests are skipped with the reason printed.
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { SymbolTable } from "../../core/ffi/mod.ts";

/** Symbols of testlib.c, in the core/ffi symbol-table format. */
export const TESTLIB_SYMBOLS = {
  tl_last_error: { parameters: ["pointer", "i32"], result: "i32" },
  tl_add_i32: { parameters: ["i32", "i32"], result: "i32" },
  tl_u32_not: { parameters: ["u32"], result: "u32" },
  tl_f32_half: { parameters: ["f32"], result: "f32" },
  tl_u64_echo: { parameters: ["u64"], result: "u64" },
  tl_i64_negate: { parameters: ["i64"], result: "i64" },
  tl_pointer_from: { parameters: ["u64"], result: "pointer" },
  tl_is_null: { parameters: ["pointer"], result: "i32" },
  tl_increment: { parameters: ["pointer"], result: "void" },
  tl_sum_f32: { parameters: ["pointer", "i32"], result: "f64" },
  tl_scale_into: { parameters: ["pointer", "pointer", "i32", "f32"], result: "i32" },
  tl_alloc: { parameters: ["u64"], result: "u64" },
  tl_write: { parameters: ["u64", "pointer", "u64"], result: "i32" },
  tl_read: { parameters: ["u64", "pointer", "u64"], result: "i32" },
  tl_count: { parameters: ["u64", "pointer"], result: "i32" },
  tl_free: { parameters: ["u64"], result: "i32" },
  tl_fail: { parameters: ["i32"], result: "i32" },
} satisfies SymbolTable;

/** The built library's path, or why it could not be built. */
export type TestlibBuild = { path: string } | { skip: string };

/** Compiles testlib.c with $CC (default `cc`) into a fresh temp dir. */
export function buildTestlib(): TestlibBuild {
  const compiler = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.CC || "cc";
  const source = fileURLToPath(new URL("./testlib.c", import.meta.url));
  const path = join(mkdtempSync(join(tmpdir(), "attnzoo-ffi-")), "libtestlib.so");
  try {
    execFileSync(compiler, ["--version"], { stdio: "ignore" });
  } catch {
    return { skip: `no C compiler (\`${compiler} --version\` failed; set CC)` };
  }
  execFileSync(compiler, ["-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-o", path, source]);
  return { path };
}
