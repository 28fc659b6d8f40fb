// States of a matmul worker's control word, shared by the pool (main thread) and the worker.

/** Index of the state word in a worker's control block. */
export const STATE = 0;
/** Spawned, module not running yet. */
export const STARTING = 0;
/** Ready for a job. */
export const IDLE = 1;
/** Claimed by the main thread; a job is posted or running. */
export const BUSY = 2;
/** Closed itself after being idle; spawn a new one. */
export const CLOSED = 3;
/** A job threw; the main thread recomputes those rows and stops using workers. */
export const FAILED = 4;
/** Idle time after which a worker that cannot be unref'd closes itself, so the process can exit. */
export const IDLE_CLOSE_MS = 300;
