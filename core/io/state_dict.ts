/**
 * Loading a checkpoint's tensors into a model's named parameters, all or nothing: every problem
 * (missing names, unexpected names, shape or dtype mismatches) is reported together in one
 * error, and the model is untouched unless everything matches.
 *
 * @module
 */
import { CheckpointError } from "../errors.ts";
import { toDevice } from "../ops.ts";
import { fmtShape, type Tensor } from "../tensor.ts";

/** Options of {@linkcode applyStateDict}. */
export interface ApplyOptions {
  /** Maps a checkpoint name to a model name; `undefined` drops the tensor (left to the caller). */
  rename?: (name: string) => string | undefined;
  /** Names the checkpoint in errors (default `"state dict"`). */
  source?: string;
}

/** One shape or dtype disagreement. */
export interface Mismatch {
  /** Model name of the tensor. */
  name: string;
  /** What the checkpoint has, e.g. `f32 [2, 3]`. */
  checkpoint: string;
  /** What the model expects. */
  model: string;
}

/** The checkpoint does not fit the model; lists every problem at once. */
export class StateDictMismatchError extends CheckpointError {
  /** Model names the checkpoint does not provide. */
  readonly missing: readonly string[];
  /** Checkpoint names (after renaming) the model does not have, or that two checkpoint names map to. */
  readonly unexpected: readonly string[];
  /** Names whose shape or dtype differ. */
  readonly mismatched: readonly Mismatch[];
  /** Lists every problem of loading `source` in one message. */
  constructor(source: string, missing: string[], unexpected: string[], mismatched: Mismatch[]) {
    const parts: string[] = [];
    const list = (names: readonly string[]) => names.map((n) => `"${n}"`).join(", ");
    if (missing.length > 0) parts.push(`missing ${missing.length}: ${list(missing)}`);
    if (unexpected.length > 0) parts.push(`unexpected ${unexpected.length}: ${list(unexpected)}`);
    if (mismatched.length > 0) {
      const each = mismatched.map((m) => `"${m.name}" checkpoint ${m.checkpoint} vs model ${m.model}`);
      parts.push(`mismatched ${mismatched.length}: ${each.join(", ")}`);
    }
    super(source, `state dict does not fit the model; ${parts.join("; ")}`);
    this.missing = missing;
    this.unexpected = unexpected;
    this.mismatched = mismatched;
  }
}

const describe = (t: Tensor): string => `${t.dtype} ${fmtShape(t.shape)}`;

/**
 * Replaces every tensor of `target` (name → model tensor) with the matching tensor of `source`.
 * Source tensors move into `target` (copied to the model tensor's device first when it differs,
 * then the source tensor is disposed); the replaced model tensors are disposed. On any problem a
 * {@linkcode StateDictMismatchError} lists all of them and neither map is changed.
 */
export function applyStateDict(
  target: Map<string, Tensor>,
  source: ReadonlyMap<string, Tensor>,
  options: ApplyOptions = {},
): void {
  const sourceName = options.source ?? "state dict";
  const incoming = new Map<string, Tensor>();
  const unexpected: string[] = [];
  const mismatched: Mismatch[] = [];
  for (const [checkpointName, tensor] of source) {
    const name = options.rename === undefined ? checkpointName : options.rename(checkpointName);
    if (name === undefined) continue;
    const current = target.get(name);
    if (current === undefined || incoming.has(name)) {
      unexpected.push(name === checkpointName ? name : `${checkpointName} -> ${name}`);
      continue;
    }
    incoming.set(name, tensor);
    if (tensor.dtype !== current.dtype || fmtShape(tensor.shape) !== fmtShape(current.shape)) {
      mismatched.push({ name, checkpoint: describe(tensor), model: describe(current) });
    }
  }
  const missing = [...target.keys()].filter((name) => !incoming.has(name));
  if (missing.length + unexpected.length + mismatched.length > 0) {
    throw new StateDictMismatchError(sourceName, missing, unexpected, mismatched);
  }
  // device copies first: if one fails, nothing has been swapped yet
  const staged = new Map<string, Tensor>();
  try {
    for (const [name, tensor] of incoming) {
      const device = target.get(name)!.device;
      staged.set(name, tensor.device === device ? tensor : toDevice(tensor, device));
    }
  } catch (err) {
    for (const [name, t] of staged) if (t !== incoming.get(name)) t.dispose();
    throw err;
  }
  for (const [name, tensor] of staged) {
    const previous = target.get(name)!;
    target.set(name, tensor);
    if (previous !== tensor) previous.dispose();
    const original = incoming.get(name)!;
    if (original !== tensor) original.dispose();
  }
}
