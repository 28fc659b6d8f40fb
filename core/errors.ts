/**
 * Typed errors thrown by attnzoo, so callers can tell a bad config from a missing GPU from a bad
 * checkpoint with `instanceof`.
 *
 * @module
 */

/** Base class of every error attnzoo throws on purpose. */
export class AttnzooError extends Error {
  /** Builds the error; the message names what the fields hold. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A config, a plugin manifest or options failed validation; names the field and the file. */
export class ConfigError extends AttnzooError {
  /** Dotted path of the offending field, e.g. `attention.heads`. */
  readonly field: string;
  /** File the config came from, or a description such as `plugin manifest "agent"`. */
  readonly source: string;
  /** Builds the error; the message names what the fields hold. */
  constructor(source: string, field: string, detail: string) {
    super(`${source}: ${field === "" ? "(root)" : field}: ${detail}`);
    this.source = source;
    this.field = field;
  }
}

/** An op received tensors of the wrong shape; names the op and every shape involved. */
export class ShapeError extends AttnzooError {
  /** The op that rejected its inputs. */
  readonly op: string;
  /** Builds the error; the message names what the fields hold. */
  constructor(op: string, detail: string) {
    super(`${op}: ${detail}`);
    this.op = op;
  }
}

/** An op received a dtype it does not accept, or two tensors whose dtypes disagree. */
export class DTypeError extends AttnzooError {
  /** The op that rejected its inputs. */
  readonly op: string;
  /** Builds the error; the message names what the fields hold. */
  constructor(op: string, detail: string) {
    super(`${op}: ${detail}`);
    this.op = op;
  }
}

/** A tensor was used after `dispose()`. */
export class DisposedTensorError extends AttnzooError {
  /** Builds the error; the message names what the fields hold. */
  constructor(what: string) {
    super(`${what}: tensor was already disposed`);
  }
}

/** A device was asked for that this machine cannot provide (no GPU, no driver, no kernels). */
export class DeviceUnavailableError extends AttnzooError {
  /** The device that was asked for. */
  readonly device: string;
  /** Builds the error; the message names what the fields hold. */
  constructor(device: string, reason: string) {
    super(`device "${device}" is unavailable: ${reason}`);
    this.device = device;
  }
}

/** A native (FFI/CUDA) call failed; names the op, the native error and the shapes. */
export class NativeError extends AttnzooError {
  /** The native op that failed. */
  readonly op: string;
  /** Status code returned by the native call. */
  readonly code: number;
  /** Builds the error; the message names what the fields hold. */
  constructor(op: string, code: number, detail: string) {
    super(`${op}: native error ${code}: ${detail}`);
    this.op = op;
    this.code = code;
  }
}

/** A checkpoint file is malformed, unsafe, or does not match the model. */
export class CheckpointError extends AttnzooError {
  /** Path or name of the checkpoint. */
  readonly file: string;
  /** Builds the error; the message names what the fields hold. */
  constructor(file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.file = file;
  }
}

/** An image file cannot be read or decoded. */
export class ImageError extends AttnzooError {
  /** Path or name of the image. */
  readonly file: string;
  /** Builds the error; the message names what the fields hold. */
  constructor(file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.file = file;
  }
}

/** A plugin or model name is not registered; suggests the nearest known name. */
export class NotFoundError extends AttnzooError {
  /** The name that was looked up. */
  readonly requested: string;
  /** The closest registered name, if any is close. */
  readonly suggestion: string | undefined;
  /** Builds the error; the message names what the fields hold. */
  constructor(kind: string, requested: string, suggestion: string | undefined) {
    super(
      `unknown ${kind} "${requested}"` +
        (suggestion === undefined ? "" : `; did you mean "${suggestion}"?`),
    );
    this.requested = requested;
    this.suggestion = suggestion;
  }
}
