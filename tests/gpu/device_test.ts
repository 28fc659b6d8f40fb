// Device selection, safe on machines without a GPU (CI): asking for "cuda" there throws
// DeviceUnavailableError with a reason and "auto" resolves to the CPU; with a GPU both pick CUDA.
import { backendFor, registerBackend, resolveDevice } from "../../core/backend.ts";
import { DeviceUnavailableError } from "../../core/errors.ts";
import { loadCudaBackend } from "../../core/backends/cuda/mod.ts";
import { test } from "../_harness.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { existsSync } from "node:fs";

registerBackend("cuda", loadCudaBackend);

const hasDriver = ["/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0"].some((p) => existsSync(p));

test("device cuda without a GPU throws DeviceUnavailableError and auto resolves to cpu", () => {
  if (hasDriver) {
    console.log("skip: this machine has an NVIDIA driver (the GPU case is tested below)");
    return;
  }
  const error = assertThrows(() => backendFor("cuda"), DeviceUnavailableError, 'device "cuda"', "no NVIDIA driver");
  assertEquals((error as DeviceUnavailableError).device, "cuda");
  assertThrows(() => resolveDevice("cuda"), DeviceUnavailableError);
  assertEquals(resolveDevice("auto"), "cpu");
});

test("device cuda with a GPU and built runtime loads, and auto picks it", () => {
  let loaded = false;
  try {
    backendFor("cuda");
    loaded = true;
  } catch (error) {
    assert(error instanceof DeviceUnavailableError, `unexpected ${error}`);
    console.log(`skip: ${error.message}`);
  }
  if (!loaded) {
    assertEquals(resolveDevice("auto"), "cpu");
    return;
  }
  assertEquals(resolveDevice("auto"), "cuda");
  assertEquals(resolveDevice("cuda"), "cuda");
});
