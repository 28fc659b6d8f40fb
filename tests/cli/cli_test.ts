// The command line: in-process for output, and as a child process for exit codes and the
// one-line errors (no stack traces).
import { spawnSync } from "node:child_process";
import process from "node:process";
import { NotFoundError } from "../../core/errors.ts";
import { runCommand, UsageError } from "../../cli/_commands.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { isBun, test } from "../_harness.ts";

function run(argv: string[]): string[] {
  const lines: string[] = [];
  runCommand(argv, (line) => lines.push(line));
  return lines;
}

function cli(...argv: string[]): { code: number; stdout: string; stderr: string } {
  const main = new URL("../../cli/main.ts", import.meta.url).pathname;
  const args = isBun ? [main, ...argv] : ["run", "-A", main, ...argv];
  const out = spawnSync(process.execPath, args, { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  return { code: out.status ?? -1, stdout: out.stdout, stderr: out.stderr };
}

test("cli list: wildcard filter, counts from the configs", () => {
  const lines = run(["list", "agent_deit_*"]);
  assertEquals(lines[0].split(/\s+/).slice(0, 5), ["model", "plugin", "arch", "params", "FLOPs"]);
  assert(
    lines.some((l) => l.startsWith("agent_deit_tiny ") && l.includes("agent") && l.includes("vit")),
    lines.join("\n"),
  );
  assertEquals(lines.at(-1), "3 models");
  assertEquals(run(["list", "no_such_*"]).at(-1), "0 models");
});

test("cli info: the card, exact parameter count and FLOPs", () => {
  const lines = run(["info", "deit_tiny_patch16_224"]);
  assert(lines[0].startsWith("deit_tiny_patch16_224  (vit, plugin softmax"), lines[0]);
  assert(lines.some((l) => l.includes("5,717,416")), lines.join("\n"));
  assert(
    lines.some((l) => l.trim().startsWith("weights") && l.includes("deit_tiny_patch16_224-a1311bcf.pth")),
    "weights",
  );
});

test("cli run: an LM continues the prompt by --max-new tokens", () => {
  const lines = run(["run", "gala_flatten_85m", "--device", "cpu", "--tokens", "1,2,3", "--max-new", "3"]);
  assertEquals(lines.find((l) => l.startsWith("prompt")), "prompt:    1,2,3");
  const generated = lines.find((l) => l.startsWith("generated: "))!.slice(11).split(",");
  assertEquals(generated.length, 3);
  assert(generated.every((t) => Number(t) >= 0 && Number(t) < 32768), generated.join(","));
});

test("cli run: a ViT classifies a JPEG (decoded, resized, centre-cropped, normalised)", () => {
  const image = new URL("../fixtures/images/q90_444.jpg", import.meta.url).pathname;
  const lines = run(["run", "deit_tiny_patch16_224", "--device", "cpu", "--image", image]);
  assert(lines[1].startsWith("forward: ") && !lines[1].includes("random image"), lines[1]);
  const classes = lines.slice(2).map((l) => l.trim().split(/\s+/));
  assertEquals(classes.length, 5);
  const probabilities = classes.map((c) => Number(c[2].replace("%", "")));
  assert(probabilities.every((p, i) => i === 0 || p <= probabilities[i - 1]), "top-5 is sorted");
});

test("cli: bad arguments and unknown names are typed errors", () => {
  assertThrows(() => run(["frobnicate"]), UsageError, "unknown command");
  assertThrows(() => run(["info"]), UsageError, "exactly one model name");
  assertThrows(() => run(["list", "--bogus", "1"]), UsageError, "--bogus");
  assertThrows(() => run(["info", "agent_deit_tny"]), NotFoundError, 'did you mean "agent_deit_tiny"');
  assertThrows(() => run(["run", "gala_sigmoid_85m", "--tokens", "1,x"]), UsageError, "--tokens");
  assertThrows(() => run(["run", "gala_sigmoid_85m", "--max-new", "0"]), UsageError, "--max-new");
});

test("cli process: one line on stderr and a non-zero exit, never a stack trace", () => {
  const unknown = cli("info", "agent_deit_tny");
  assertEquals(unknown.code, 1);
  assertEquals(unknown.stderr.trim(), 'attnzoo: unknown model "agent_deit_tny"; did you mean "agent_deit_tiny"?');
  const usage = cli("run");
  assertEquals(usage.code, 2);
  assert(usage.stderr.startsWith("attnzoo: expected exactly one model name\nusage:"), usage.stderr);
  const image = cli("run", "deit_tiny_patch16_224", "--device", "cpu", "--image", "/nonexistent.png");
  assertEquals(image.code, 1);
  assert(
    /^attnzoo: \/nonexistent\.png: cannot read image/.test(image.stderr) && !image.stderr.includes("    at "),
    image.stderr,
  );
  const weights = cli(
    "run",
    "deit_tiny_patch16_224",
    "--device",
    "cpu",
    "--weights",
    new URL("../fixtures/images/q90_444.jpg", import.meta.url).pathname,
  );
  assertEquals(weights.code, 1);
  assert(
    weights.stderr.includes("unrecognized checkpoint format") && weights.stderr.trim().split("\n").length === 1,
    weights.stderr,
  );
  const ok = cli("list", "transnormer*");
  assertEquals(ok.code, 0);
  assertEquals(ok.stdout.trim().split("\n").at(-1), "3 models");
});
