/**
 * `createModel(name, { weights })`: reads a checkpoint, casts each tensor to the dtype of the
 * parameter it replaces, and loads it all-or-nothing; installed into the registry on import.
 *
 * @module
 */
import { statSync } from "node:fs";
import { cast } from "../ops.ts";
import { type Model, setWeightLoader } from "../registry.ts";
import type { Tensor } from "../tensor.ts";
import { loadCheckpoint } from "./mod.ts";
import { applyStateDict } from "./state_dict.ts";

/** Files above this size report their loading progress on stderr. */
const PROGRESS_BYTES = 256 * 1024 * 1024;

/** Loads the checkpoint at `path` into `model`'s parameters (official names, strictly). */
export function loadWeights(model: Model, path: string): void {
  const large = statSync(path, { throwIfNoEntry: false })?.size ?? 0;
  const loaded = loadCheckpoint(path, { progress: large > PROGRESS_BYTES });
  const converted = new Map<string, Tensor>();
  try {
    for (const [name, tensor] of loaded) {
      const target = model.parameters.get(name);
      if (target !== undefined && target.dtype !== tensor.dtype && tensor.dtype !== "i32") {
        converted.set(name, cast(tensor, target.dtype));
        tensor.dispose();
      } else converted.set(name, tensor);
    }
    applyStateDict(model.parameters, converted, { source: path });
  } catch (err) {
    for (const t of loaded.values()) t.dispose();
    for (const t of converted.values()) t.dispose();
    throw err;
  }
}

setWeightLoader(loadWeights);
