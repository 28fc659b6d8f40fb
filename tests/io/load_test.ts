import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CheckpointError } from "../../core/errors.ts";
import {
  applyStateDict,
  detectCheckpointFormat,
  loadCheckpoint,
  stderrProgress,
  writeSafetensors,
} from "../../core/io/mod.ts";
import { type Tensor, zeros } from "../../core/tensor.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { test } from "../_harness.ts";
import { scratchDir } from "./_files.ts";

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/io/${name}`, import.meta.url));
const path = scratchDir();

/** Runs `fn` with console.error captured. */
function captureStderr(fn: () => void): string[] {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    fn();
  } finally {
    console.error = original;
  }
  return lines;
}

test("loadCheckpoint: tells the formats apart and loads each", () => {
  const index = path("model.safetensors.index.json");
  writeSafetensors(path("part.safetensors"), { w: zeros([2]) });
  writeFileSync(index, JSON.stringify({ weight_map: { w: "part.safetensors" } }));
  assertEquals(
    [fixture("state_dict.pth"), fixture("legacy.pth"), fixture("state_dict.safetensors"), index].map(
      detectCheckpointFormat,
    ),
    ["torch", "torch", "safetensors", "sharded-safetensors"],
  );
  const fromTorch = loadCheckpoint(fixture("state_dict.pth"));
  const fromSafetensors = loadCheckpoint(fixture("state_dict.safetensors"));
  for (const [name, t] of fromTorch) {
    assertEquals(Array.from(fromSafetensors.get(name)!.hostData), Array.from(t.hostData), name);
  }
  assertEquals([...loadCheckpoint(fixture("state_dict.pth"), { key: "state_dict_ema" }).keys()], [
    "encoder.weight",
    "encoder.bias",
  ]);
  assertEquals([...loadCheckpoint(index).keys()], ["w"]);
  const junk = path("junk.bin");
  writeFileSync(junk, "GIF89a and more bytes");
  assertThrows(() => loadCheckpoint(junk), CheckpointError, junk, "unrecognized checkpoint format");
  const short = path("short.safetensors");
  writeFileSync(short, "abc");
  assertThrows(() => loadCheckpoint(short), CheckpointError, short, "3 bytes is too short for a safetensors file");
});

test("loadCheckpoint: progress goes to stderr only when asked", () => {
  const file = fixture("state_dict.safetensors");
  assertEquals(captureStderr(() => loadCheckpoint(file)), []);
  const calls: number[] = [];
  const lines = captureStderr(() => loadCheckpoint(file, { progress: true, onProgress: (done) => calls.push(done) }));
  assert(lines.length >= 2 && lines.length <= 11, `one line per 10% step, got ${lines.length}`);
  assert(lines[lines.length - 1].startsWith(`${file}: 100% (`), lines[lines.length - 1]);
  assertEquals(calls.length, 15, "the callback still sees every tensor");
});

test("stderrProgress: prints each 10% step once", () => {
  const lines = captureStderr(() => {
    const report = stderrProgress("ckpt");
    for (const done of [0, 5, 10, 15, 50, 99, 100]) report(done * 1e6, 100e6);
  });
  assertEquals(lines, [
    "ckpt: 0% (0.0 of 100.0 MB)",
    "ckpt: 10% (10.0 of 100.0 MB)",
    "ckpt: 50% (50.0 of 100.0 MB)",
    "ckpt: 90% (99.0 of 100.0 MB)",
    "ckpt: 100% (100.0 of 100.0 MB)",
  ]);
});

test("loadCheckpoint + applyStateDict: a torch checkpoint fills a model of matching shapes", () => {
  const weights = loadCheckpoint(fixture("ordered_dict.pth"));
  const target = new Map<string, Tensor>([
    ["0.weight", zeros([4, 3])],
    ["0.bias", zeros([4])],
    ["1.weight", zeros([4])],
    ["1.bias", zeros([4])],
  ]);
  applyStateDict(target, weights, { source: "ordered_dict.pth" });
  assertEquals(target.get("1.weight")!.toArray(), [1, 1, 1, 1]);
  assertEquals(target.get("0.weight")!.toFloat32Array()[0], Math.fround(0.2265685647726059));
});
