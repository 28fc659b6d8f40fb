// A restricted unpickler: it interprets the pickle opcodes that torch.save emits (protocols 2–5)
// and builds plain values, but executes nothing. GLOBAL/STACK_GLOBAL resolve only names in the
// caller's allow-list; REDUCE, NEWOBJ and BUILD only call the allow-listed handlers. Any other
// global or opcode is a CheckpointError naming it.
import { CheckpointError } from "../errors.ts";

/** A value built by the unpickler. Tuples are frozen arrays, lists plain arrays, dicts Maps. */
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | readonly PyValue[]
  | Map<PyValue, PyValue>
  | PyObject
  | PyGlobal;

/** An instance the caller chose to keep opaque (argparse.Namespace ...): class name, arguments, state. */
export class PyObject {
  /** Set by BUILD. */
  state: PyValue = null;
  constructor(readonly className: string, readonly args: readonly PyValue[]) {}
}

/** What an allow-listed global does when called (REDUCE or NEWOBJ) with its arguments. */
export type GlobalHandler = (args: readonly PyValue[]) => PyValue;

/** An allow-listed global (a class or function in Python), callable through REDUCE/NEWOBJ. */
export class PyGlobal {
  constructor(readonly name: string, readonly call: GlobalHandler) {}
}

/** What the caller allows. */
export interface UnpickleOptions {
  /** Name used in errors (the checkpoint path). */
  source: string;
  /** `module.qualname` → handler; every other global is refused. */
  globals: ReadonlyMap<string, GlobalHandler>;
  /** Resolves BINPERSID ids (torch storages); absent = persistent ids are refused. */
  persistentLoad?: (pid: PyValue) => PyValue;
  /** Explains a refused global better than the default message (unsupported storage types ...). */
  describeRefusal?: (name: string) => string | undefined;
}

/** Checks that a value is a tuple (a frozen array). */
export function isTuple(value: unknown): value is readonly PyValue[] {
  return Array.isArray(value) && Object.isFrozen(value);
}

const tuple = (items: PyValue[]): readonly PyValue[] => Object.freeze(items);

/** Runs the pickle in `bytes` and returns the value STOP leaves on the stack. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): PyValue {
  const { source } = options;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  let stack: PyValue[] = [];
  const marks: PyValue[][] = [];
  const memo = new Map<number, PyValue>();
  let pos = 0;

  const fail = (detail: string): never => {
    throw new CheckpointError(source, `pickle byte ${pos}: ${detail}`);
  };
  const need = (n: number): number => {
    if (pos + n > bytes.length) fail(`truncated pickle (needs ${n} more bytes)`);
    const at = pos;
    pos += n;
    return at;
  };
  const u8 = (): number => bytes[need(1)];
  const u16 = (): number => view.getUint16(need(2), true);
  const u32 = (): number => view.getUint32(need(4), true);
  const u64 = (): number => {
    const value = view.getBigUint64(need(8), true);
    if (value > BigInt(bytes.length)) fail(`length ${value} exceeds the pickle`);
    return Number(value);
  };
  const text = (n: number): string => {
    const at = need(n);
    try {
      return utf8.decode(bytes.subarray(at, at + n));
    } catch {
      return fail("invalid UTF-8 in a string");
    }
  };
  const latin1 = (n: number): string => {
    const at = need(n);
    let out = "";
    for (let i = at; i < at + n; i += 4096) {
      out += String.fromCharCode(...bytes.subarray(i, Math.min(i + 4096, at + n)));
    }
    return out;
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail("unterminated text line");
    return latin1(end - pos + 1).slice(0, -1);
  };
  const pop = (): PyValue => {
    if (stack.length === 0) fail("stack underflow");
    return stack.pop()!;
  };
  const top = (): PyValue => {
    if (stack.length === 0) fail("stack underflow");
    return stack[stack.length - 1];
  };
  const popMark = (): PyValue[] => {
    const items = stack;
    if (marks.length === 0) fail("no MARK to pop to");
    stack = marks.pop()!;
    return items;
  };
  const resolveGlobal = (module: string, name: string): PyGlobal => {
    const full = `${module}.${name}`;
    const handler = options.globals.get(full);
    if (handler === undefined) {
      throw new CheckpointError(
        source,
        options.describeRefusal?.(full) ?? `refusing global ${full} (not allow-listed)`,
      );
    }
    return new PyGlobal(full, handler);
  };
  const call = (callable: PyValue, args: PyValue): PyValue => {
    if (!(callable instanceof PyGlobal)) return fail("REDUCE/NEWOBJ on something that is not an allow-listed global");
    if (!isTuple(args)) return fail(`arguments of ${callable.name} are not a tuple`);
    return callable.call(args);
  };
  const setItems = (target: PyValue, items: PyValue[]): void => {
    if (!(target instanceof Map)) return fail("SETITEM(S) on something that is not a dict");
    if (items.length % 2 !== 0) fail("SETITEMS with an odd number of items");
    for (let i = 0; i < items.length; i += 2) target.set(items[i], items[i + 1]);
  };
  const append = (target: PyValue, items: PyValue[]): void => {
    if (!Array.isArray(target) || isTuple(target)) return fail("APPEND(S) on something that is not a list");
    for (const item of items) (target as PyValue[]).push(item);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const version = u8();
        if (version > 5) fail(`pickle protocol ${version} is newer than 5`);
        break;
      }
      case 0x95: // FRAME: a length prefix for buffering; the frame's opcodes follow inline
        need(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length !== 0) fail("STOP with a malformed stack");
        return pop();
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length === 0 && marks.length > 0) popMark();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x4a: // BININT
        stack.push(view.getInt32(need(4), true));
        break;
      case 0x8a: // LONG1
      case 0x8b: { // LONG4
        const n = op === 0x8a ? u8() : u32();
        const at = need(n);
        let value = 0n;
        for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[at + i]);
        if (n > 0 && bytes[at + n - 1] & 0x80) value -= 1n << BigInt(8 * n);
        const small = value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER);
        stack.push(small ? Number(value) : value);
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x54: // BINSTRING (Python 2 str)
        stack.push(latin1(u32()));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1(u8()));
        break;
      case 0x42: // BINBYTES
      case 0x43: // SHORT_BINBYTES
      case 0x8e: { // BINBYTES8
        const n = op === 0x42 ? u32() : op === 0x43 ? u8() : u64();
        const at = need(n);
        stack.push(bytes.slice(at, at + n));
        break;
      }
      case 0x29: // EMPTY_TUPLE
        stack.push(tuple([]));
        break;
      case 0x74: { // TUPLE (popMark swaps the stack, so pop before pushing)
        const items = popMark();
        stack.push(tuple(items));
        break;
      }
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: { // TUPLE3
        const n = op - 0x84;
        const items: PyValue[] = [];
        for (let i = 0; i < n; i++) items.unshift(pop());
        stack.push(tuple(items));
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: { // LIST
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x61: { // APPEND
        const item = pop();
        append(top(), [item]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: { // DICT
        const dict = new Map<PyValue, PyValue>();
        setItems(dict, popMark());
        stack.push(dict);
        break;
      }
      case 0x73: { // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x63: { // GLOBAL "module\nname\n"
        const module = line();
        stack.push(resolveGlobal(module, line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail("STACK_GLOBAL needs two strings");
        stack.push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x81: { // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x92: { // NEWOBJ_EX: cls, args, kwargs
        const kwargs = pop();
        const args = pop();
        if (!(kwargs instanceof Map) || kwargs.size > 0) fail("NEWOBJ_EX with keyword arguments");
        stack.push(call(pop(), args));
        break;
      }
      case 0x62: { // BUILD: keep state on opaque objects; a dict's state is its attributes (OrderedDict._metadata)
        const state = pop();
        const target = top();
        if (target instanceof PyObject) target.state = state;
        else if (!(target instanceof Map)) fail("BUILD on an object that takes no state");
        break;
      }
      case 0x51: { // BINPERSID
        if (options.persistentLoad === undefined) fail("persistent ids are not allowed here");
        stack.push(options.persistentLoad!(pop()));
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: { // LONG_BINGET
        const key = op === 0x68 ? u8() : u32();
        if (!memo.has(key)) fail(`memo key ${key} was never stored`);
        stack.push(memo.get(key)!);
        break;
      }
      default:
        pos--;
        fail(`unsupported opcode 0x${op.toString(16).padStart(2, "0")} (${JSON.stringify(String.fromCharCode(op))})`);
    }
  }
}
