// What torch.save pickles, as far as a state dict needs: storages arrive as persistent ids
// ('storage', torch.<Type>Storage, key, location, numel) and tensors as calls to
// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...). This file lists the
// globals that are understood and turns them into StorageRef / TensorRef values; nothing runs.
import { CheckpointError } from "../errors.ts";
import type { StoredDType } from "./_elements.ts";
import { type GlobalHandler, isTuple, PyGlobal, PyObject, type PyValue } from "./_unpickle.ts";

/** Torch storage classes and the element type each holds. */
const STORAGE_TYPES: Readonly<Record<string, StoredDType>> = {
  "torch.FloatStorage": "F32",
  "torch.DoubleStorage": "F64",
  "torch.HalfStorage": "F16",
  "torch.BFloat16Storage": "BF16",
  "torch.LongStorage": "I64",
  "torch.IntStorage": "I32",
  "torch.ShortStorage": "I16",
  "torch.CharStorage": "I8",
  "torch.ByteStorage": "U8",
  "torch.BoolStorage": "BOOL",
};

/** One storage record of the archive (`data/<key>`). */
export class StorageRef extends PyObject {
  constructor(readonly key: string, readonly dtype: StoredDType, readonly numel: number) {
    super("torch.storage", []);
  }
}

/** A tensor as a strided window onto a storage (element units). */
export class TensorRef extends PyObject {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {
    super("torch.Tensor", []);
  }
}

const isCount = (v: PyValue): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;

/** The allow-list and persistent-id resolver for one checkpoint; `source` names it in errors. */
export function torchPickleOptions(source: string): {
  globals: Map<string, GlobalHandler>;
  persistentLoad: (pid: PyValue) => PyValue;
  describeRefusal: (name: string) => string | undefined;
} {
  const bad = (what: string, detail: string): never => {
    throw new CheckpointError(source, `${what}: ${detail}`);
  };
  const rebuildTensor = (name: string) => (args: readonly PyValue[]): PyValue => {
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof StorageRef)) return bad(name, "first argument is not a storage");
    if (!isCount(offset)) return bad(name, `storage offset ${String(offset)} is not a count`);
    if (!isTuple(size) || !size.every(isCount)) return bad(name, "size is not a tuple of counts");
    if (!isTuple(stride) || !stride.every(isCount) || stride.length !== size.length) {
      return bad(name, `stride does not match size (${size.length} dims)`);
    }
    return new TensorRef(storage, offset, size as number[], stride as number[]);
  };
  const rebuildParameter = (args: readonly PyValue[]): PyValue => {
    if (!(args[0] instanceof TensorRef)) return bad("torch._utils._rebuild_parameter", "data is not a tensor");
    return args[0];
  };
  const notCallable = (name: string) => (): never => bad(name, "storage classes are only valid in persistent ids");
  const globals = new Map<string, GlobalHandler>([
    ["collections.OrderedDict", (args) => orderedDict(args, bad)],
    ["torch._utils._rebuild_tensor_v2", rebuildTensor("torch._utils._rebuild_tensor_v2")],
    ["torch._utils._rebuild_tensor", rebuildTensor("torch._utils._rebuild_tensor")],
    ["torch._utils._rebuild_parameter", rebuildParameter],
    ["torch._utils._rebuild_parameter_with_state", rebuildParameter],
    ["torch.Size", (args) => args[0] ?? Object.freeze([])],
    ["argparse.Namespace", (args) => new PyObject("argparse.Namespace", args)],
  ]);
  for (const name of Object.keys(STORAGE_TYPES)) globals.set(name, notCallable(name));

  const storages = new Map<string, StorageRef>();
  const persistentLoad = (pid: PyValue): PyValue => {
    if (!isTuple(pid) || pid.length !== 5 || pid[0] !== "storage") {
      return bad("persistent id", "expected ('storage', type, key, location, numel)");
    }
    const [, type, key, location, numel] = pid;
    if (!(type instanceof PyGlobal) || !(type.name in STORAGE_TYPES)) {
      return bad("persistent id", "unknown storage type");
    }
    if (typeof key !== "string" || typeof location !== "string" || !isCount(numel)) {
      return bad("persistent id", `storage ${String(key)} has a malformed key, location or size`);
    }
    const dtype = STORAGE_TYPES[type.name];
    const known = storages.get(key);
    if (known !== undefined) {
      if (known.dtype !== dtype || known.numel !== numel) {
        bad("persistent id", `storage ${key} is declared twice differently`);
      }
      return known;
    }
    const ref = new StorageRef(key, dtype, numel); // the location (cpu, cuda:0) is ignored: tensors load on the CPU
    storages.set(key, ref);
    return ref;
  };
  const describeRefusal = (name: string): string | undefined =>
    /^torch\.\w+Storage$/.test(name) ? `unsupported storage type ${name}` : undefined;
  return { globals, persistentLoad, describeRefusal };
}

/** collections.OrderedDict() or OrderedDict([(key, value), ...]) as a Map. */
function orderedDict(args: readonly PyValue[], bad: (what: string, detail: string) => never): PyValue {
  const out = new Map<PyValue, PyValue>();
  if (args.length === 0) return out;
  const pairs = args[0];
  if (!Array.isArray(pairs) || args.length > 1) return bad("collections.OrderedDict", "expected a list of pairs");
  for (const pair of pairs) {
    if (!isTuple(pair) || pair.length !== 2) bad("collections.OrderedDict", "expected (key, value) pairs");
    out.set((pair as PyValue[])[0], (pair as PyValue[])[1]);
  }
  return out;
}
