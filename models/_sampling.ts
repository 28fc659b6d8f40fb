// How generation picks the next token: the options of the sampling op (core/backend.ts), which
// runs where the logits live so that only token ids reach the host.
export type { SampleOptions as SamplingOptions } from "../core/backend.ts";
