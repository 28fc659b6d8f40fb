// The sigmoid manifest's symbol table matches the C signatures of the FlashSigmoid exports,
// parameter by parameter: FFI binds by position, so one missing or mistyped argument (the varlen
// export's offsets, say) would shift every later one. No GPU needed.
import { plugin } from "../../../plugins/sigmoid/mod.ts";
import { test } from "../../_harness.ts";
import { assertSymbolsMatchExports } from "../_kernel_exports.ts";

test("sigmoid kernels: the manifest declares every export with the C signature's parameter types", () => {
  const kernels = plugin.kernels;
  assertSymbolsMatchExports(kernels.symbols, new URL("../../../plugins/sigmoid/", import.meta.url), kernels.sources);
});
