// Positional reads of a file through node:fs, which Deno and Bun both provide, so a large
// checkpoint is read piece by piece (header first, then each tensor) instead of whole.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { CheckpointError } from "../errors.ts";

/** An open file read at explicit offsets. */
export interface FileReader extends Disposable {
  /** Path as given. */
  readonly path: string;
  /** Size in bytes. */
  readonly size: number;
  /** Fills `into` with the bytes at `position`; a short read is a CheckpointError. */
  readInto(into: Uint8Array, position: number): void;
  /** The `length` bytes at `position`, freshly allocated. */
  read(position: number, length: number): Uint8Array;
}

/** Opens `path` for positional reads; a missing or unreadable file is a CheckpointError. */
export function openFileReader(path: string): FileReader {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    throw new CheckpointError(path, `cannot open: ${(err as Error).message}`);
  }
  const size = fstatSync(fd).size;
  const readInto = (into: Uint8Array, position: number): void => {
    let done = 0;
    while (done < into.length) {
      const n = readSync(fd, into, done, into.length - done, position + done);
      if (n <= 0) {
        throw new CheckpointError(path, `file ends at byte ${position + done}, needed ${position + into.length}`);
      }
      done += n;
    }
  };
  return {
    path,
    size,
    readInto,
    read(position: number, length: number): Uint8Array {
      const out = new Uint8Array(length);
      readInto(out, position);
      return out;
    },
    [Symbol.dispose](): void {
      closeSync(fd);
    },
  };
}
