// Runtime-neutral test registration: Deno.test under Deno, bun:test under Bun. Test files use
// `test(name, fn)` from here so the same suite runs on both runtimes.

/** A test body. */
export type TestBody = () => void | Promise<void>;

type Register = (name: string, fn: TestBody) => void;

/** Whole-model tests (CLI runs, parity) outlast Bun's 5 s default on a loaded 2-core machine. */
const BUN_TIMEOUT_MS = 300_000;

const deno = (globalThis as { Deno?: { test: (def: object) => void } }).Deno;

type BunTest = (name: string, fn: TestBody, timeoutMs: number) => void;
const bunTest = deno === undefined ? ((await import("bun:test" as string)) as { test: BunTest }).test : undefined;

const register: Register = deno !== undefined
  ? (name, fn) => deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false })
  : (name, fn) => bunTest!(name, fn, BUN_TIMEOUT_MS);

/** Registers a test with the runtime's own runner. */
export function test(name: string, fn: TestBody): void {
  register(name, fn);
}

/** True under Bun. */
export const isBun: boolean = deno === undefined;
