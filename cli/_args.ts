// Minimal flag parsing: `--name value` and `--flag`, positional arguments in order.
import { UsageError } from "./_errors.ts";

/** Parsed command line. */
export interface Args {
  positional: string[];
  flags: Map<string, string | true>;
}

/** Splits argv into positionals and flags; `--x=y` and `--x y` both work. */
export function parseArgs(argv: readonly string[], booleanFlags: readonly string[] = []): Args {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const [name, inline] = eq < 0 ? [arg.slice(2), undefined] : [arg.slice(2, eq), arg.slice(eq + 1)];
    if (booleanFlags.includes(name)) flags.set(name, true);
    else if (inline !== undefined) flags.set(name, inline);
    else if (i + 1 < argv.length) flags.set(name, argv[++i]);
    else throw new UsageError(`--${name} needs a value`);
  }
  return { positional, flags };
}

/** A string flag, or undefined. */
export function flagString(args: Args, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === "string" ? v : undefined;
}

/** An integer flag of at least `min` (default 1) with a default; anything else is a usage error. */
export function flagInt(args: Args, name: string, fallback: number, min = 1): number {
  const v = flagString(args, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${v}"`);
  return n;
}

/** Rejects flags the command does not know. */
export function onlyFlags(args: Args, known: readonly string[]): void {
  for (const name of args.flags.keys()) {
    if (!known.includes(name)) throw new UsageError(`unknown option --${name}`);
  }
}
