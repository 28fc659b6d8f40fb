// Writes pickles opcode by opcode (names and encodings from Python's pickletools) so tests can
// build torch-style archives with chosen shapes, strides, storages and hostile globals.

/** Accumulates pickle bytes. */
export class PickleWriter {
  #bytes: number[] = [];

  /** Raw opcode bytes. */
  op(...codes: number[]): this {
    this.#bytes.push(...codes);
    return this;
  }
  /** PROTO n. */
  proto(n: number): this {
    return this.op(0x80, n);
  }
  /** MARK. */
  mark(): this {
    return this.op(0x28);
  }
  /** BINUNICODE with a 4-byte length. */
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.op(0x58, ...u32(b.length), ...b);
  }
  /** SHORT_BINUNICODE (protocol 4). */
  shortStr(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.op(0x8c, b.length, ...b);
  }
  /** BININT (signed 32-bit). */
  int(n: number): this {
    return this.op(0x4a, ...u32(n >>> 0));
  }
  /** GLOBAL "module\nname\n". */
  global(module: string, name: string): this {
    return this.op(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  /** TUPLE (from the last MARK). */
  tuple(): this {
    return this.op(0x74);
  }
  /** The finished pickle, ending in STOP. */
  finish(): Uint8Array {
    return new Uint8Array([...this.#bytes, 0x2e]);
  }
}

function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

/** One tensor of a hand-built torch state dict. */
export interface TensorSpec {
  name: string;
  storageType: string;
  key: string;
  numel: number;
  offset: number;
  size: number[];
  stride: number[];
}

/**
 * A protocol-2 pickle of `{name: _rebuild_tensor_v2(storage, offset, size, stride, False,
 * OrderedDict())}` as torch.save writes it.
 */
export function torchStateDictPickle(tensors: TensorSpec[]): Uint8Array {
  const w = new PickleWriter().proto(2).op(0x7d).mark();
  for (const t of tensors) {
    w.str(t.name).global("torch._utils", "_rebuild_tensor_v2").mark();
    w.mark().str("storage").global("torch", t.storageType).str(t.key).str("cpu").int(t.numel).tuple().op(0x51);
    w.int(t.offset);
    w.mark();
    for (const d of t.size) w.int(d);
    w.tuple().mark();
    for (const s of t.stride) w.int(s);
    w.tuple().op(0x89).global("collections", "OrderedDict").op(0x29, 0x52).tuple().op(0x52);
  }
  return w.op(0x75).finish();
}
