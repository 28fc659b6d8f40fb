// A stand-in for nvcc (a shell script) so the build tool's discovery, hashing and rebuild logic is
// tested without CUDA: it reports a chosen release, records each run's arguments in a file of its
// own (runs overlap), writes its arguments into the -o file, and fails when a .cu has FAIL_ME.
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A fake nvcc in `dir`: its path and the compiles it ran (one argument list each). */
export interface FakeNvcc {
  /** Path of the script. */
  command: string;
  /** Argument lists of the runs so far (`--version` calls excluded), in no particular order. */
  runs(): string[][];
}

/** Writes a fake nvcc reporting CUDA `release` into `dir` (its log lives next to it). */
export function writeFakeNvcc(dir: string, release = "12.8", name = "nvcc"): FakeNvcc {
  const command = join(dir, name);
  const log = join(dir, `${name}.runs`);
  mkdirSync(log);
  writeFileSync(
    command,
    `#!/bin/sh
if [ "$1" = "--version" ]; then echo "Cuda compilation tools, release ${release}, V${release}.0"; exit 0; fi
out=""; prev=""
for arg in "$@"; do
  if [ "$prev" = "-o" ]; then out="$arg"; fi
  prev="$arg"
  case "$arg" in *.cu) if grep -q FAIL_ME "$arg"; then echo "$arg(1): error: fake failure" >&2; exit 1; fi;; esac
done
printf '%s\\037' "$@" > "$(mktemp "${log}/run.XXXXXX")"
printf '%s\\n' "$@" > "$out"
`,
  );
  chmodSync(command, 0o755);
  return {
    command,
    runs: () => readdirSync(log).map((file) => readFileSync(join(log, file), "utf8").split("\x1f").slice(0, -1)),
  };
}
