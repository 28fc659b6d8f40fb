/**
 * The CUDA backend, loaded lazily: `registerBackend("cuda", loadCudaBackend)`. Loading opens
 * libattnzoo_runtime.so (built on first use by kernels/build.ts, or prebuilt in $ATTNZOO_LIB_DIR)
 * and initialises GPU 0; when there is no GPU, driver, nvcc or library it throws
 * DeviceUnavailableError, so `device: "auto"` falls back to the CPU.
 *
 * @module
 */
import { setDeviceDownload } from "../../tensor.ts";
import { openRuntime } from "./_library.ts";
import { CudaBackend } from "./backend.ts";

export { CudaBackend, type CudaMemoryStats, type LinearOptions } from "./backend.ts";
export { CudaStorage } from "./storage.ts";
export type { OpProfile } from "./_profiler.ts";

/** Opens the runtime, installs device-to-host reads for tensors, and returns the backend. */
export function loadCudaBackend(): CudaBackend {
  const backend = new CudaBackend(openRuntime());
  setDeviceDownload((storage) => backend.download(storage));
  return backend;
}
