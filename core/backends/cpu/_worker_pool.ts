// Runs a GemmJob on the main thread plus a persistent pool of workers, splitting output rows.
// The call stays synchronous: the main thread computes its share, then blocks in Atomics.wait
// until each worker flips its state word back. Workers not ready yet are skipped (their rows run
// here); a worker that fails to load or throws turns the pool off for good.
import { type GemmJob, type GemmPart, gemmPart } from "./_gemm.ts";
import { BUSY, CLOSED, FAILED, IDLE, IDLE_CLOSE_MS, STARTING, STATE } from "./_worker_protocol.ts";

/** Products below this many FLOPs run on the calling thread only. */
const PARALLEL_MIN_FLOPS = 2e6;
/** Longest wait for a fresh worker to start (it takes a few ms); slower ones are skipped meanwhile. */
const START_WAIT_MS = 250;
/** Longest wait of {@linkcode startWorkers}. */
const READY_TIMEOUT_MS = 10_000;
/** Splits fall on multiples of the micro-kernel's height and width. */
const SPLIT_ALIGN = 4;
const MAX_THREADS = 16;

interface Slot {
  worker: Worker;
  control: Int32Array;
  /** Until when a product waits for this worker to start. */
  startDeadline: number;
}

const slots: Slot[] = [];
let threads = configuredThreads();
let disabled = false;
let parallelJobs = 0;

function configuredThreads(): number {
  const cores = Math.min(globalThis.navigator?.hardwareConcurrency ?? 1, MAX_THREADS);
  let setting: string | undefined;
  try {
    setting = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
      ?.ATTNZOO_CPU_THREADS;
  } catch {
    setting = undefined; // no permission to read the environment
  }
  const n = setting === undefined ? cores : Number(setting);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, MAX_THREADS) : cores;
}

/** Threads a large matmul uses (main thread included). */
export function getThreads(): number {
  return disabled ? 1 : threads;
}

/** Sets the thread count (≥ 1; 1 = main thread only). */
export function setThreads(n: number): void {
  threads = Math.min(n, MAX_THREADS);
}

/** Number of products that ran on more than one thread so far. */
export function getParallelJobs(): number {
  return parallelJobs;
}

/** Computes the whole job, on several threads when it is large enough and workers are usable. */
export function runGemm(job: GemmJob): void {
  const rows = job.aOffsets.length * job.m;
  const whole: GemmPart = { rowStart: 0, rowEnd: rows, colStart: 0, colEnd: job.n };
  // Split output rows; products with few rows (matrix-vector) split columns instead.
  const byRows = rows >= threads * SPLIT_ALIGN;
  const extent = byRows ? rows : job.n;
  const wanted = Math.min(threads, Math.floor(extent / SPLIT_ALIGN)) - 1;
  const large = 2 * rows * job.n * job.k >= PARALLEL_MIN_FLOPS;
  const shared = job.c.buffer instanceof SharedArrayBuffer && job.a.buffer instanceof SharedArrayBuffer &&
    job.b.buffer instanceof SharedArrayBuffer;
  const helpers = large && wanted > 0 && shared && !disabled ? claimWorkers(wanted) : [];
  if (helpers.length === 0) {
    gemmPart(job, whole);
    return;
  }
  parallelJobs++;
  const count = helpers.length + 1;
  const bound = (i: number): number =>
    i === count ? extent : Math.min(extent, Math.round((extent * i) / count / SPLIT_ALIGN) * SPLIT_ALIGN);
  const part = (i: number): GemmPart =>
    byRows
      ? { ...whole, rowStart: bound(i), rowEnd: bound(i + 1) }
      : { ...whole, colStart: bound(i), colEnd: bound(i + 1) };
  helpers.forEach((slot, i) => slot.worker.postMessage({ job, part: part(i + 1) }));
  gemmPart(job, part(0));
  let failed = false;
  helpers.forEach((slot, i) => {
    while (Atomics.load(slot.control, STATE) === BUSY) Atomics.wait(slot.control, STATE, BUSY);
    if (Atomics.load(slot.control, STATE) === FAILED) {
      failed = true;
      gemmPart(job, part(i + 1));
    }
  });
  if (failed) disableAll();
}

/** Spawns the workers now and resolves, without blocking, once they run: threads ready in all. */
export async function startWorkers(): Promise<number> {
  const count = threads - 1;
  if (disabled || count < 1 || !ensureSpawned(count)) return 1;
  const deadline = performance.now() + READY_TIMEOUT_MS;
  const starting = () => slots.slice(0, count).some((slot) => Atomics.load(slot.control, STATE) === STARTING);
  while (!disabled && starting() && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  if (disabled) return 1;
  return 1 + slots.slice(0, count).filter((slot) => Atomics.load(slot.control, STATE) === IDLE).length;
}

// Spawns the first `count` workers where missing or closed; false when workers are unavailable.
function ensureSpawned(count: number): boolean {
  for (let i = 0; i < count; i++) {
    if (slots[i] === undefined || Atomics.load(slots[i].control, STATE) === CLOSED) {
      const slot = spawn();
      if (slot === undefined) return false;
      slots[i] = slot;
    }
  }
  return true;
}

// Claims up to `count` idle workers (state IDLE → BUSY), spawning missing or closed ones. A
// fresh worker gets a short wait to start; one still starting after that is skipped this time.
function claimWorkers(count: number): Slot[] {
  if (!ensureSpawned(count)) return [];
  const claimed: Slot[] = [];
  for (const slot of slots.slice(0, count)) {
    while (Atomics.load(slot.control, STATE) === STARTING && performance.now() < slot.startDeadline) {
      Atomics.wait(slot.control, STATE, STARTING, 5);
    }
    if (Atomics.compareExchange(slot.control, STATE, IDLE, BUSY) === IDLE) claimed.push(slot);
  }
  return claimed;
}

function spawn(): Slot | undefined {
  try {
    const worker = new Worker(new URL("./_matmul_worker.ts", import.meta.url).href, { type: "module" });
    // Where the runtime can unref the worker it never holds the process open and stays for good;
    // elsewhere it closes itself once idle and is spawned again on demand.
    const unref = (worker as Worker & { unref?: () => void }).unref;
    unref?.call(worker);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      disableAll();
    };
    const control = new Int32Array(new SharedArrayBuffer(4));
    worker.postMessage({ control, idleCloseMs: unref === undefined ? IDLE_CLOSE_MS : 0 });
    return { worker, control, startDeadline: performance.now() + START_WAIT_MS };
  } catch {
    disabled = true; // no Worker support or no permission to load the file
    return undefined;
  }
}

function disableAll(): void {
  disabled = true;
  for (const slot of slots.splice(0)) slot.worker.terminate();
}
