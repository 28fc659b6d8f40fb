// The worker pool must never keep a finished process alive, and ATTNZOO_CPU_THREADS=1 must turn
// it off. Both are checked on a child process of the runtime running this test.
import { spawnSync } from "node:child_process";
import process from "node:process";
import { assert, assertEquals } from "../_assert.ts";
import { isBun, test } from "../_harness.ts";

const probe = new URL("./_exit_probe.ts", import.meta.url).pathname;

interface ProbeResult {
  threads: number;
  parallelJobs: number;
  value: number;
  seconds: number;
}

function runProbe(threads: string, denoPermissions = ["-A"]): ProbeResult {
  const args = isBun ? [probe] : ["run", ...denoPermissions, probe];
  const start = performance.now();
  const child = spawnSync(process.execPath, args, {
    env: { ...process.env, ATTNZOO_CPU_THREADS: threads },
    timeout: 15_000,
    encoding: "utf8",
  });
  const seconds = (performance.now() - start) / 1000;
  assertEquals(child.status, 0, `probe exited on its own (signal ${child.signal}, stderr ${child.stderr})`);
  return { ...JSON.parse(child.stdout.trim()), seconds };
}

test("cpu workers: a process that used them exits promptly", () => {
  const result = runProbe("2");
  assertEquals(result.threads, 2);
  assertEquals(result.parallelJobs, 1, "the 256³ product ran on the worker pool");
  assert(result.seconds < 10, `exit took ${result.seconds.toFixed(1)} s`);
});

test("cpu workers: ATTNZOO_CPU_THREADS=1 keeps every product on the main thread", () => {
  const result = runProbe("1");
  assertEquals(result.threads, 1);
  assertEquals(result.parallelJobs, 0);
});

if (!isBun) {
  test("cpu workers: when the worker cannot load (Deno without read permission) products run on the main thread", () => {
    const reference = runProbe("2");
    const result = runProbe("2", ["--allow-env"]);
    assertEquals(result.parallelJobs, 0);
    assertEquals(result.value, reference.value, "same product without workers");
    assert(result.seconds < 10, `exit took ${result.seconds.toFixed(1)} s`);
  });
}
