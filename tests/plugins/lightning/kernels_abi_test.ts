// The lightning manifest's symbol table matches the C signatures of its kernel exports, parameter
// by parameter: FFI binds by position, so one missing or mistyped argument would shift every later
// one (wrong strides, a stride read as the stream). No GPU needed.
import { lightningKernelManifest } from "../../../plugins/lightning/_fused.ts";
import { plugin } from "../../../plugins/lightning/mod.ts";
import { assertEquals } from "../../_assert.ts";
import { test } from "../../_harness.ts";
import { assertSymbolsMatchExports } from "../_kernel_exports.ts";

test("lightning kernels: the manifest declares every export with the C signature's parameter types", () => {
  assertEquals(plugin.kernels, lightningKernelManifest, "the manifest carries the kernel table");
  assertSymbolsMatchExports(
    lightningKernelManifest.symbols,
    new URL("../../../plugins/lightning/", import.meta.url),
    lightningKernelManifest.sources,
  );
});
