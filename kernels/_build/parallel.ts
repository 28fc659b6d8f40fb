// Runs independent nvcc compiles at the same time and waits for all of them, synchronously (the
// CUDA backend builds on first use, inside synchronous code): one POSIX shell starts up to `jobs`
// commands in the background, waits, and leaves each command's output and exit status in files.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";

/** How one command ended. */
export interface CommandResult {
  /** Exit status. */
  status: number;
  /** Its stdout and stderr together. */
  output: string;
}

function quote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** Runs `commands` (argv arrays), at most `jobs` at a time; returns their results in order. */
export function runParallel(
  commands: readonly (readonly string[])[],
  jobs: number = availableParallelism(),
): CommandResult[] {
  if (commands.length === 0) return [];
  const dir = mkdtempSync(join(tmpdir(), "attnzoo-nvcc-"));
  try {
    const lines = commands.map((argv, i) => {
      const log = quote(join(dir, `${i}.log`));
      const status = quote(join(dir, `${i}.status`));
      const wait = (i + 1) % Math.max(1, jobs) === 0 ? "\nwait" : "";
      return `(${argv.map(quote).join(" ")} >${log} 2>&1; echo $? >${status}) &${wait}`;
    });
    const script = join(dir, "run.sh");
    writeFileSync(script, `${lines.join("\n")}\nwait\n`);
    execFileSync("sh", [script], { stdio: "ignore" });
    return commands.map((_, i) => ({
      status: Number(readFileSync(join(dir, `${i}.status`), "utf8").trim()),
      output: readFileSync(join(dir, `${i}.log`), "utf8"),
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
