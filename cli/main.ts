/**
 * The attnzoo command line: `list`, `info`, `run` and `bench` over the model registry.
 * Runs under Deno (`deno task zoo …`) and Bun (`bun cli/main.ts …`). Every expected failure
 * prints one line and exits non-zero; no stack traces.
 *
 * @module
 */
import process from "node:process";
import { AttnzooError } from "../core/errors.ts";
import { runCommand, UsageError } from "./_commands.ts";

try {
  runCommand(process.argv.slice(2), (line) => console.log(line));
} catch (err) {
  if (err instanceof UsageError) {
    console.error(
      `attnzoo: ${err.message}\nusage: attnzoo list [PATTERN] | info NAME | run NAME [options] | bench NAME [options] | help`,
    );
    process.exit(2);
  }
  const message = err instanceof AttnzooError ? err.message : `internal error: ${(err as Error)?.message ?? err}`;
  console.error(`attnzoo: ${message}`);
  process.exit(1);
}
