/**
 * Checkpoint I/O: safetensors files, sharded Hugging Face indexes and `torch.save` archives, one
 * entry point that tells them apart, and an all-or-nothing loader into a model's tensors.
 *
 * @example
 * ```ts
 * import { applyStateDict, loadCheckpoint } from "@attnzoo/zoo";
 * const weights = loadCheckpoint("agent_deit_tiny.pth", { progress: true });
 * // applyStateDict(model.parameters, weights, { rename: (n) => n.replace(/^module\./, "") });
 * ```
 *
 * @module
 */
import { CheckpointError } from "../errors.ts";
import type { Tensor } from "../tensor.ts";
import { openFileReader } from "./_file.ts";
import { looksLikeZip } from "./_zip.ts";
import { type ProgressCallback, readSafetensors } from "./safetensors.ts";
import { readShardedSafetensors } from "./sharded.ts";
import { readTorchCheckpoint } from "./torch.ts";

export {
  encodeSafetensors,
  parseSafetensors,
  type ProgressCallback,
  type ReadOptions,
  readSafetensors,
  readSafetensorsMetadata,
  type TensorDict,
  writeSafetensors,
} from "./safetensors.ts";
export { readShardedSafetensors } from "./sharded.ts";
export { readTorchCheckpoint, type TorchReadOptions } from "./torch.ts";
export { type ApplyOptions, applyStateDict, type Mismatch, StateDictMismatchError } from "./state_dict.ts";

/** The formats {@linkcode loadCheckpoint} understands. */
export type CheckpointFormat = "safetensors" | "sharded-safetensors" | "torch";

/** Options of {@linkcode loadCheckpoint}. */
export interface LoadOptions {
  /** For torch checkpoints: the top-level key holding the state dict (see readTorchCheckpoint). */
  key?: string;
  /** Called as tensor data is read: bytes done out of the total. */
  onProgress?: ProgressCallback;
  /** Prints progress to stderr every 10% (off by default). */
  progress?: boolean;
}

/**
 * Tells a checkpoint's format from its name and first bytes: `.json` is a sharded index; a zip
 * (or the pre-1.6 pickle, which the torch reader then refuses by name) is torch.save; an 8-byte
 * length followed by `{` is safetensors; otherwise a `.safetensors` name decides, so that its
 * reader can say what is wrong with the file.
 */
export function detectCheckpointFormat(path: string): CheckpointFormat {
  if (path.endsWith(".json")) return "sharded-safetensors";
  using reader = openFileReader(path);
  const head = reader.read(0, Math.min(reader.size, 9));
  if (looksLikeZip(head) || (head[0] === 0x80 && head[1] === 0x02)) return "torch";
  if ((head.length === 9 && head[8] === 0x7b) || path.endsWith(".safetensors")) return "safetensors";
  throw new CheckpointError(
    path,
    "unrecognized checkpoint format (expected safetensors, an index .json or torch.save)",
  );
}

/** A progress callback that prints `label: 40% (12.0 of 30.0 MB)` to stderr at each 10% step. */
export function stderrProgress(label: string): ProgressCallback {
  let shown = -1;
  return (done, total) => {
    const step = total === 0 ? 10 : Math.floor((10 * done) / total);
    if (step <= shown) return;
    shown = step;
    const mb = (n: number) => (n / 1e6).toFixed(1);
    console.error(`${label}: ${step * 10}% (${mb(done)} of ${mb(total)} MB)`);
  };
}

/** Loads any supported checkpoint into CPU tensors, by name. */
export function loadCheckpoint(path: string, options: LoadOptions = {}): Map<string, Tensor> {
  const printer = options.progress ? stderrProgress(path) : undefined;
  const onProgress: ProgressCallback | undefined = options.onProgress === undefined
    ? printer
    : printer === undefined
    ? options.onProgress
    : (done, total) => {
      options.onProgress!(done, total);
      printer(done, total);
    };
  switch (detectCheckpointFormat(path)) {
    case "sharded-safetensors":
      return readShardedSafetensors(path, { onProgress });
    case "torch":
      return readTorchCheckpoint(path, { key: options.key, onProgress });
    case "safetensors":
      return readSafetensors(path, { onProgress });
  }
}
