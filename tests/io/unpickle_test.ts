import { CheckpointError } from "../../core/errors.ts";
import { isTuple, type PyValue, unpickle } from "../../core/io/_unpickle.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { test } from "../_harness.ts";
import { PickleWriter } from "./_pickle_builder.ts";

// pickle.dumps(value, protocol=p) from CPython 3, for
//   shared = [1, 2]
//   value = {"ints": [0, 255, 256, 65535, 65536, -1, -2**31, 2**31 - 1, 2**40, -2**40, 2**70, -2**70],
//            "floats": (0.5, -1e300, 1e-310), "tuples": ((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)),
//            "flags": [None, True, False], "text": "héllo ✓", "shared": (shared, shared),
//            "od": collections.OrderedDict([("a", 1), ("b", 2)])}  (+ "bytes": b"\x00\x01\xff" for p ≥ 3)
const COMMON = "7d94288c04696e7473945d94284b004bff4d00014dffff4a000001004affffffff4a000000804affffff7f8a0600000000000" +
  "18a060000000000ff8a090000000000000000408a090000000000000000c0658c06666c6f61747394473fe000000000000047" +
  "fe37e43c8800759c47000012688b70e62b87948c067475706c65739428294b0185944b014b0286944b014b024b038794284b01" +
  "4b024b034b04749474948c05666c616773945d94284e8889658c0474657874948c0a68c3a96c6c6f20e29c93948c0673686172" +
  "6564945d94284b014b0265681086948c026f64948c0b636f6c6c656374696f6e73948c0b4f7264657265644469637494939429" +
  "5294288c0161944b018c0162944b02758c0562797465739443030001ff94752e";
const PICKLES: Record<number, string> = {
  2: "80027d7100285804000000696e747371015d7102284b004bff4d00014dffff4a000001004affffffff4a000000804affffff7f" +
    "8a060000000000018a060000000000ff8a090000000000000000408a090000000000000000c0655806000000666c6f617473" +
    "7103473fe000000000000047fe37e43c8800759c47000012688b70e62b87710458060000007475706c6573710528294b0185" +
    "71064b014b028671074b014b024b03877108284b014b024b034b0474710974710a5805000000666c616773710b5d710c284e" +
    "888965580400000074657874710d580a00000068c3a96c6c6f20e29c93710e5806000000736861726564710f5d7110284b01" +
    "4b0265681086711158020000006f64711263636f6c6c656374696f6e730a4f726465726564446963740a7113295271142858" +
    "010000006171154b0158010000006271164b0275752e",
  3: "80037d7100285804000000696e747371015d7102284b004bff4d00014dffff4a000001004affffffff4a000000804affffff7f" +
    "8a060000000000018a060000000000ff8a090000000000000000408a090000000000000000c0655806000000666c6f617473" +
    "7103473fe000000000000047fe37e43c8800759c47000012688b70e62b87710458060000007475706c6573710528294b0185" +
    "71064b014b028671074b014b024b03877108284b014b024b034b0474710974710a5805000000666c616773710b5d710c284e" +
    "888965580400000074657874710d580a00000068c3a96c6c6f20e29c93710e5806000000736861726564710f5d7110284b01" +
    "4b0265681086711158020000006f64711263636f6c6c656374696f6e730a4f726465726564446963740a7113295271142858" +
    "010000006171154b0158010000006271164b027558050000006279746573711743030001ff7118752e",
  4: "8004951e01000000000000" + COMMON,
  5: "8005951e01000000000000" + COMMON,
};

const hex = (s: string) => new Uint8Array(s.match(/../g)!.map((b) => parseInt(b, 16)));
const orderedDict = new Map([["collections.OrderedDict", () => new Map<PyValue, PyValue>()]]);

test("unpickle: CPython's pickles of protocols 2–5 decode to the same values", () => {
  for (const [protocol, text] of Object.entries(PICKLES)) {
    const value = unpickle(hex(text), { source: `p${protocol}`, globals: orderedDict }) as Map<string, PyValue>;
    const label = `protocol ${protocol}`;
    assertEquals([...value.keys()].slice(0, 7), ["ints", "floats", "tuples", "flags", "text", "shared", "od"], label);
    const ints = value.get("ints") as PyValue[];
    assertEquals(ints.slice(0, 10), [0, 255, 256, 65535, 65536, -1, -2147483648, 2147483647, 2 ** 40, -(2 ** 40)]);
    assert(ints[10] === 2n ** 70n && ints[11] === -(2n ** 70n), `${label}: big ints ${ints[10]}, ${ints[11]}`);
    assertEquals(value.get("floats"), [0.5, -1e300, 1e-310], label);
    const tuples = value.get("tuples") as PyValue[];
    assert(isTuple(tuples) && tuples.every(isTuple), `${label}: tuples are frozen`);
    assertEquals(tuples, [[], [1], [1, 2], [1, 2, 3], [1, 2, 3, 4]], label);
    assertEquals(value.get("flags"), [null, true, false], label);
    assertEquals(value.get("text"), "héllo ✓", label);
    const shared = value.get("shared") as PyValue[][];
    assert(shared[0] === shared[1] && !isTuple(shared[0]), `${label}: the memo returns the same list`);
    assertEquals([...(value.get("od") as Map<string, number>)], [["a", 1], ["b", 2]], label);
    if (Number(protocol) >= 3) assertEquals(Array.from(value.get("bytes") as Uint8Array), [0, 1, 255], label);
  }
});

test("unpickle: a global outside the allow-list is refused by name", () => {
  assertThrows(
    () => unpickle(hex(PICKLES[2]), { source: "p2", globals: new Map() }),
    CheckpointError,
    "p2",
    "refusing global collections.OrderedDict",
  );
  const eval4 = new PickleWriter().proto(4).shortStr("builtins").shortStr("eval").op(0x93).finish();
  assertThrows(() => unpickle(eval4, { source: "s", globals: orderedDict }), CheckpointError, "builtins.eval");
});

test("unpickle: malformed streams are CheckpointErrors with the byte position", () => {
  const cases: [string, Uint8Array, string][] = [
    ["underflow", new PickleWriter().proto(2).op(0x85).finish(), "byte 3: stack underflow"],
    ["unknown memo", new PickleWriter().proto(2).op(0x68, 7).finish(), "memo key 7 was never stored"],
    ["no mark", new PickleWriter().proto(2).op(0x74).finish(), "no MARK"],
    ["two values at STOP", new PickleWriter().proto(2).op(0x4e, 0x4e).finish(), "STOP with a malformed stack"],
    ["setitem on list", new PickleWriter().proto(2).op(0x5d, 0x4e, 0x4e, 0x73).finish(), "not a dict"],
    ["reduce on a value", new PickleWriter().proto(2).op(0x4e, 0x29, 0x52).finish(), "not an allow-listed global"],
    ["persistent id", new PickleWriter().proto(2).str("x").op(0x51).finish(), "persistent ids are not allowed"],
    ["no STOP", new PickleWriter().proto(2).op(0x4e).finish().subarray(0, 3), "truncated pickle"],
    ["bad utf-8", new Uint8Array([0x80, 0x02, 0x8c, 0x01, 0xff, 0x2e]), "invalid UTF-8"],
  ];
  for (const [label, bytes, part] of cases) {
    const err = assertThrows(() => unpickle(bytes, { source: label, globals: orderedDict }), CheckpointError, part);
    assert(err.message.startsWith(`${label}: pickle byte `), err.message);
  }
});

test("unpickle: Python 2 byte strings decode as latin-1, long ones too", () => {
  const long = new Uint8Array(10_000).map((_, i) => 0xe0 + (i % 16));
  const header = [0x54, ...new Uint8Array(new Uint32Array([long.length]).buffer)]; // BINSTRING
  const bytes = new Uint8Array([0x80, 0x02, ...header, ...long, 0x2e]);
  const text = unpickle(bytes, { source: "py2", globals: new Map() }) as string;
  assertEquals([text.length, text.charCodeAt(0), text.charCodeAt(9_999)], [10_000, 0xe0, 0xef]);
  assertEquals(
    unpickle(new Uint8Array([0x80, 0x02, 0x55, 0x01, 0xe9, 0x2e]), { source: "s", globals: new Map() }),
    "é",
  );
});
