/**
 * Device storage of the CUDA backend: an opaque handle into the runtime's caching allocator.
 *
 * @module
 */
import type { DType } from "../../dtype.ts";
import type { Device, Storage } from "../../tensor.ts";

/** Memory blocks on the GPU, owned by libattnzoo_runtime's caching allocator. */
export class CudaStorage implements Storage {
  /** Always `"cuda"`. */
  readonly device: Device = "cuda";
  /** Element type. */
  readonly dtype: DType;
  /** Number of elements. */
  readonly length: number;
  /** Device address of the first element (opaque outside the native library). */
  readonly handle: bigint;
  #release: ((handle: bigint) => void) | undefined;

  /** Wraps an allocation; `release` gives it back to the allocator's cache. */
  constructor(dtype: DType, length: number, handle: bigint, release: (handle: bigint) => void) {
    this.dtype = dtype;
    this.length = length;
    this.handle = handle;
    this.#release = release;
  }

  /** Returns the block to the caching allocator (no cudaFree); later calls do nothing. */
  free(): void {
    const release = this.#release;
    this.#release = undefined;
    release?.(this.handle);
  }
}
