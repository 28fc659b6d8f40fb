// Per-op GPU time when $ATTNZOO_CUDA_PROFILE is set: every checked native call is followed by a
// device synchronisation, so the time from the previous call's end to this call's end is (almost
// only) this op's kernels. Serialising the stream slows the model; the table says where time goes,
// not how fast the model runs.
import process from "node:process";

/** Time and count of one op (the name the backend gives the call, e.g. "matmul", "sigmoid_forward"). */
export interface OpProfile {
  op: string;
  calls: number;
  ms: number;
}

/** Accumulates per-op times between `reset` and `table`. */
export class OpProfiler {
  readonly #ops = new Map<string, OpProfile>();
  #mark = performance.now();

  /** Starts timing a call (the time since the last mark is host work between ops). */
  begin(): void {
    this.#mark = performance.now();
  }

  /** Ends the call named `op`: `synchronize` must have drained the stream. */
  end(op: string, synchronize: () => void): void {
    synchronize();
    const now = performance.now();
    const entry = this.#ops.get(op) ?? { op, calls: 0, ms: 0 };
    entry.calls++;
    entry.ms += now - this.#mark;
    this.#ops.set(op, entry);
    this.#mark = now;
  }

  /** Ops by descending total time. */
  table(): OpProfile[] {
    return [...this.#ops.values()].sort((a, b) => b.ms - a.ms);
  }

  /** Forgets everything recorded. */
  reset(): void {
    this.#ops.clear();
    this.#mark = performance.now();
  }
}

/** The profiler when $ATTNZOO_CUDA_PROFILE is set to anything but "" or "0", else undefined. */
export function profilerFromEnv(): OpProfiler | undefined {
  const flag = process.env.ATTNZOO_CUDA_PROFILE;
  return flag && flag !== "0" ? new OpProfiler() : undefined;
}
