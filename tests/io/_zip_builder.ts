// Builds zip archives for tests, following PKWARE's APPNOTE directly (independent of the reader):
// local headers, central directory, end record, and optionally the zip64 forms of all three.
import { crc32, deflateRawSync } from "node:zlib";

/** How to write the archive. */
export interface ZipOptions {
  /** Deflate every entry instead of storing it. */
  deflate?: boolean;
  /** Put sizes and offsets in zip64 extra fields and write the zip64 end records. */
  zip64?: boolean;
}

/** A zip archive of `entries` (name → bytes), in order. */
export function buildZip(entries: [string, Uint8Array][], options: ZipOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  const encoder = new TextEncoder();
  for (const [name, data] of entries) {
    const nameBytes = encoder.encode(name);
    const body = options.deflate ? new Uint8Array(deflateRawSync(data)) : data;
    const crc = crc32(data) >>> 0;
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true);
    local.setUint16(8, options.deflate ? 8 : 0, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, body.length, true);
    local.setUint32(22, data.length, true);
    local.setUint16(26, nameBytes.length, true);
    parts.push(new Uint8Array(local.buffer), nameBytes, body);
    const extra = new DataView(new ArrayBuffer(options.zip64 ? 28 : 0));
    if (options.zip64) {
      extra.setUint16(0, 0x0001, true);
      extra.setUint16(2, 24, true);
      extra.setBigUint64(4, BigInt(data.length), true);
      extra.setBigUint64(12, BigInt(body.length), true);
      extra.setBigUint64(20, BigInt(offset), true);
    }
    const record = new DataView(new ArrayBuffer(46));
    record.setUint32(0, 0x02014b50, true);
    record.setUint16(4, 45, true);
    record.setUint16(6, 20, true);
    record.setUint16(10, options.deflate ? 8 : 0, true);
    record.setUint32(16, crc, true);
    record.setUint32(20, options.zip64 ? 0xffffffff : body.length, true);
    record.setUint32(24, options.zip64 ? 0xffffffff : data.length, true);
    record.setUint16(28, nameBytes.length, true);
    record.setUint16(30, extra.byteLength, true);
    record.setUint32(42, options.zip64 ? 0xffffffff : offset, true);
    central.push(new Uint8Array(record.buffer), nameBytes, new Uint8Array(extra.buffer));
    offset += 30 + nameBytes.length + body.length;
  }
  const centralSize = central.reduce((n, p) => n + p.length, 0);
  parts.push(...central);
  if (options.zip64) {
    const record = new DataView(new ArrayBuffer(56));
    record.setUint32(0, 0x06064b50, true);
    record.setBigUint64(4, 44n, true);
    record.setBigUint64(24, BigInt(entries.length), true);
    record.setBigUint64(32, BigInt(entries.length), true);
    record.setBigUint64(40, BigInt(centralSize), true);
    record.setBigUint64(48, BigInt(offset), true);
    const locator = new DataView(new ArrayBuffer(20));
    locator.setUint32(0, 0x07064b50, true);
    locator.setBigUint64(8, BigInt(offset + centralSize), true);
    locator.setUint32(16, 1, true);
    parts.push(new Uint8Array(record.buffer), new Uint8Array(locator.buffer));
  }
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, options.zip64 ? 0xffff : entries.length, true);
  end.setUint16(10, options.zip64 ? 0xffff : entries.length, true);
  end.setUint32(12, options.zip64 ? 0xffffffff : centralSize, true);
  end.setUint32(16, options.zip64 ? 0xffffffff : offset, true);
  parts.push(new Uint8Array(end.buffer));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
