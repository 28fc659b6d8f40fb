// Assertions for numeric tests: every failure says what differed, where, and by how much.

/** Throws with `message` unless `cond`. */
export function assert(cond: unknown, message = "assertion failed"): asserts cond {
  if (!cond) throw new Error(message);
}

/** Deep equality through JSON (numbers, strings, arrays, plain objects). */
export function assertEquals(actual: unknown, expected: unknown, message = ""): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${message ? message + ": " : ""}expected ${e}, got ${a}`);
}

/** Tolerances of {@linkcode assertClose}: |a − e| ≤ atol + rtol·|e| elementwise. */
export interface Tolerance {
  rtol?: number;
  atol?: number;
}

/**
 * Elementwise closeness. NaN only matches NaN, infinities must match exactly. Reports the worst
 * element, its index and both values.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { rtol = 1e-5, atol = 1e-6 }: Tolerance = {},
  label = "values",
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${label}: length ${actual.length}, expected ${expected.length}`);
  }
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e) || Number.isNaN(a)) {
      if (Number.isNaN(e) !== Number.isNaN(a)) throw new Error(`${label}[${i}]: got ${a}, expected ${e}`);
      continue;
    }
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      if (a !== e) throw new Error(`${label}[${i}]: got ${a}, expected ${e}`);
      continue;
    }
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (excess > worstExcess) [worst, worstExcess] = [i, excess];
  }
  if (worst >= 0) {
    const a = actual[worst];
    const e = expected[worst];
    throw new Error(
      `${label}[${worst}]: got ${a}, expected ${e} (|diff| ${Math.abs(a - e).toExponential(3)}, ` +
        `rtol ${rtol}, atol ${atol})`,
    );
  }
}

/** ‖a − e‖₂ / ‖e‖₂. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    num += (actual[i] - expected[i]) ** 2;
    den += expected[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-300));
}

/** Asserts ‖a − e‖ / ‖e‖ ≤ bound. */
export function assertRelativeError(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  bound: number,
  label = "values",
): void {
  if (actual.length !== expected.length) throw new Error(`${label}: length ${actual.length} vs ${expected.length}`);
  const err = relativeError(actual, expected);
  if (!(err <= bound)) throw new Error(`${label}: relative error ${err.toExponential(3)} > ${bound}`);
}

/** Asserts `fn` throws an instance of `type` whose message contains every string in `includes`. */
export function assertThrows(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  type: abstract new (...args: any[]) => Error,
  ...includes: string[]
): Error {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof type)) throw new Error(`expected ${type.name}, got ${(err as Error)?.name}: ${err}`);
    for (const part of includes) {
      if (!err.message.includes(part)) throw new Error(`error message "${err.message}" lacks "${part}"`);
    }
    return err;
  }
  throw new Error(`expected ${type.name} to be thrown`);
}
