// Runs a GemmJob on the main thread plus a persistent pool of workers, splitting output rows.
// The call stays synchronous: the main thread computes its share, then blocks in Atomics.wait
// until each worker flips its state word back. Workers that are missing, closed or not ready in
// time are skipped (their rows run here); any failure turns the pool off for good.
import { type GemmJob, gemmRows } from "./_gemm.ts";
import { BUSY, CLOSED, FAILED, IDLE, IDLE_CLOSE_MS, STARTING, STATE } from "./_worker_protocol.ts";

/** Products below this many FLOPs run on the calling thread only. */
const PARALLEL_MIN_FLOPS = 2e6;
/** Longest wait for a fresh worker to start; a worker slower than this disables the pool. */
const START_TIMEOUT_MS = 5000;
/** Row splits are multiples of the micro-kernel height. */
const ROW_ALIGN = 4;
const MAX_THREADS = 16;

interface Slot {
  worker: Worker;
  control: Int32Array;
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
  const flops = 2 * rows * job.n * job.k;
  const wanted = Math.min(threads, Math.floor(rows / ROW_ALIGN)) - 1;
  const shared = job.c.buffer instanceof SharedArrayBuffer && job.a.buffer instanceof SharedArrayBuffer &&
    job.b.buffer instanceof SharedArrayBuffer;
  const helpers = flops >= PARALLEL_MIN_FLOPS && wanted > 0 && shared && !disabled ? claimWorkers(wanted) : [];
  if (helpers.length === 0) {
    gemmRows(job, 0, rows);
    return;
  }
  parallelJobs++;
  const parts = helpers.length + 1;
  const bound = (i: number): number =>
    i === parts ? rows : Math.min(rows, Math.round((rows * i) / parts / ROW_ALIGN) * ROW_ALIGN);
  helpers.forEach((slot, i) => slot.worker.postMessage({ job, rowStart: bound(i + 1), rowEnd: bound(i + 2) }));
  gemmRows(job, 0, bound(1));
  helpers.forEach((slot, i) => {
    while (Atomics.load(slot.control, STATE) === BUSY) Atomics.wait(slot.control, STATE, BUSY);
    if (Atomics.load(slot.control, STATE) === FAILED) {
      disabled = true;
      gemmRows(job, bound(i + 1), bound(i + 2));
    }
  });
}

// Claims up to `count` idle workers (state IDLE → BUSY), spawning missing or closed ones.
function claimWorkers(count: number): Slot[] {
  for (let i = 0; i < count; i++) {
    if (slots[i] === undefined || Atomics.load(slots[i].control, STATE) === CLOSED) {
      const slot = spawn();
      if (slot === undefined) return [];
      slots[i] = slot;
    }
  }
  const claimed: Slot[] = [];
  for (const slot of slots.slice(0, count)) {
    const deadline = performance.now() + START_TIMEOUT_MS;
    while (Atomics.load(slot.control, STATE) === STARTING && performance.now() < deadline) {
      Atomics.wait(slot.control, STATE, STARTING, 10);
    }
    if (Atomics.load(slot.control, STATE) === STARTING) {
      disableAll();
      for (const other of claimed) Atomics.store(other.control, STATE, IDLE);
      return [];
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
    return { worker, control };
  } catch {
    disabled = true; // no Worker support or no permission to load the file
    return undefined;
  }
}

function disableAll(): void {
  disabled = true;
  for (const slot of slots.splice(0)) slot.worker.terminate();
}
