// The causal agent aggregation from core ops, so it runs on whichever device holds its inputs:
// for query t, agent a reads V_A(t)[a] = Σ_{j≤t} softmax_j(s_a,j) v_j over the visible prefix and
// o_t = Σ_a p_t,a V_A(t)[a]. Tokens are taken in chunks; inside a chunk the prefix softmax is one
// masked softmax (−∞ above the diagonal), and what came before enters as one more column whose
// logit is the log-normaliser L_a of the earlier tokens and whose value is their V_A. The state
// (L [BH, n, 1, 1] and V_A [BH, n, 1, e], f32) does not grow with the sequence. _scan.ts is the
// running max/sum form of the same recurrence in plain loops, the reference this is tested on.
import {
  add,
  affine,
  cast,
  concat,
  log,
  matmul,
  mul,
  narrow,
  permute,
  softmax,
  sub,
  sum,
  toDevice,
} from "../../core/ops.ts";
import { type Device, type Tensor, tensor } from "../../core/tensor.ts";

/** Tokens per chunk: the masked scores of a chunk are [BH, n, T, T + 1] f32. */
const CHUNK = 128;
/** Keeps log(w) finite where a softmax weight underflows to 0 (w·log(w + ε) → 0 there). */
const LOG_FLOOR = 1e-30;

/** Decode state of the aggregation; empty (both undefined) before the first token. */
export class AgentOpScanState implements Disposable {
  /** Log-normaliser L_a = log Σ_{j<t} exp(s_a,j), [BH, n, 1, 1] f32. */
  logNormaliser: Tensor | undefined;
  /** V_A of the tokens so far, [BH, n, 1, e] f32. */
  agentValues: Tensor | undefined;
  [Symbol.dispose](): void {
    this.logNormaliser?.dispose();
    this.agentValues?.dispose();
    this.logNormaliser = undefined;
    this.agentValues = undefined;
  }
}

/** Causal masks [T, T] (0 on and below the diagonal, −∞ above) per chunk length, on one device. */
export class CausalMasks implements Disposable {
  readonly #masks = new Map<number, Tensor>();
  constructor(readonly device: Device) {}

  get(t: number): Tensor {
    const cached = this.#masks.get(t);
    if (cached !== undefined) return cached;
    const values = new Float32Array(t * t);
    for (let i = 0; i < t; i++) values.fill(-Infinity, i * t + i + 1, (i + 1) * t);
    const host = tensor(values, { shape: [t, t] });
    let mask = host;
    if (this.device !== "cpu") {
      mask = toDevice(host, this.device);
      host.dispose();
    }
    this.#masks.set(t, mask);
    return mask;
  }

  [Symbol.dispose](): void {
    for (const m of this.#masks.values()) m.dispose();
    this.#masks.clear();
  }
}

function asF32(x: Tensor): Tensor {
  return x.dtype === "f32" ? x.reshape(x.shape) : cast(x, "f32");
}

/**
 * Consumes T tokens: `scores` [BH, n, T] (s·A·k_t), `probs` [BH, T, n] (softmax over agents of
 * s·q_t·A), `values` [BH, T, e]; returns o [BH, T, e] in f32 and advances `state`.
 */
export function agentOpScan(
  scores: Tensor,
  probs: Tensor,
  values: Tensor,
  state: AgentOpScanState,
  masks: CausalMasks,
): Tensor {
  const tokens = scores.shape[2];
  if (tokens <= CHUNK) return chunk(scores, probs, values, state, masks);
  const outputs: Tensor[] = [];
  try {
    for (let start = 0; start < tokens; start += CHUNK) {
      const t = Math.min(CHUNK, tokens - start);
      using s = narrow(scores, 2, start, t);
      using p = narrow(probs, 1, start, t);
      using v = narrow(values, 1, start, t);
      outputs.push(chunk(s, p, v, state, masks));
    }
    return concat(outputs, 1);
  } finally {
    for (const o of outputs) o.dispose();
  }
}

function chunk(scores: Tensor, probs: Tensor, values: Tensor, state: AgentOpScanState, masks: CausalMasks): Tensor {
  const [bh, n, t] = scores.shape;
  const e = values.shape[2];
  const past = state.logNormaliser !== undefined && state.agentValues !== undefined;
  using s32 = asF32(scores);
  using rows = s32.reshape([bh, n, 1, t]);
  using masked = add(rows, masks.get(t)); // [BH, n, T, T]
  let logits = masked.reshape(masked.shape);
  if (past) {
    using _masked = logits;
    using zeroColumn = narrow(masks.get(t), 1, 0, 1); // [T, 1] of zeros
    using pastColumn = add(state.logNormaliser!, zeroColumn); // [BH, n, T, 1]
    logits = concat([pastColumn, masked], 3);
  }
  using _logits = logits;
  using weights = softmax(logits, -1);
  using newWeights = past ? narrow(weights, 3, 1, t) : weights.reshape(weights.shape);
  using v32 = asF32(values);
  using vRows = v32.reshape([bh, 1, t, e]);
  using fresh = matmul(newWeights, vRows); // [BH, n, T, e]
  let agentValues = fresh.reshape(fresh.shape);
  if (past) {
    using _fresh = agentValues;
    using pastWeights = narrow(weights, 3, 0, 1);
    using carried = mul(pastWeights, state.agentValues!);
    agentValues = add(fresh, carried);
  }
  using _agentValues = agentValues;
  using p32 = asF32(probs);
  using pRows = p32.reshape([bh, t, 1, n]);
  using perToken = permute(agentValues, [0, 2, 1, 3]); // [BH, T, n, e]
  using mixed = matmul(pRows, perToken); // [BH, T, 1, e]

  // The last row saw every column c, so L' = logit_c − log w_c for each c; their w-weighted mean
  // is exact and stays finite where single weights underflow.
  using lastWeights = narrow(weights, 2, t - 1, 1);
  using lastLogits = narrow(logits, 2, t - 1, 1);
  using floored = affine(lastWeights, 1, LOG_FLOOR);
  using logWeights = log(floored);
  using gaps = sub(lastLogits, logWeights);
  using terms = mul(lastWeights, gaps);
  const logNormaliser = sum(terms, 3, true); // [BH, n, 1, 1]
  const lastValues = narrow(agentValues, 2, t - 1, 1); // [BH, n, 1, e]
  state[Symbol.dispose]();
  state.logNormaliser = logNormaliser;
  state.agentValues = lastValues;
  return mixed.reshape([bh, t, e]);
}
