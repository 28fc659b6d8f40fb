// A matmul worker: receives its control block once, then jobs; computes its part into the shared
// output and flips its state back to idle. Where the runtime cannot unref a worker, it closes
// itself after a quiet spell (claiming the state first, so the main thread never posts to a
// closing worker) and so never keeps a finished process alive.
import { type GemmJob, type GemmPart, gemmPart } from "./_gemm.ts";
import { CLOSED, FAILED, IDLE, STATE } from "./_worker_protocol.ts";

interface WorkerScope {
  onmessage: ((event: MessageEvent) => void) | null;
  close(): void;
}

const scope = globalThis as unknown as WorkerScope;
let control: Int32Array | undefined;
let idleCloseMs = 0;
let idleTimer: ReturnType<typeof setTimeout> | undefined;

function finish(state: number): void {
  Atomics.store(control!, STATE, state);
  Atomics.notify(control!, STATE);
  if (idleCloseMs === 0) return;
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    if (Atomics.compareExchange(control!, STATE, IDLE, CLOSED) === IDLE) scope.close();
  }, idleCloseMs);
}

scope.onmessage = (event: MessageEvent) => {
  const message = event.data as
    | { control: Int32Array; idleCloseMs: number }
    | { job: GemmJob; part: GemmPart };
  if ("control" in message) {
    control = message.control;
    idleCloseMs = message.idleCloseMs;
    finish(IDLE);
    return;
  }
  try {
    gemmPart(message.job, message.part);
    finish(IDLE);
  } catch {
    finish(FAILED);
  }
};
