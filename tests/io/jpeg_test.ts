import { readFileSync } from "node:fs";
import { ImageError } from "../../core/errors.ts";
import { decodeJpeg } from "../../core/io/jpeg.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { test } from "../_harness.ts";

const dir = new URL("../fixtures/images/", import.meta.url);

/** djpeg's reference decode, a binary PPM (P6) or PGM (P5), as RGB bytes. */
function readPnm(name: string): { width: number; height: number; rgb: Uint8Array } {
  const bytes = readFileSync(new URL(name, dir));
  const header = new TextDecoder().decode(bytes.subarray(0, 20)).split(/\s+/);
  const [magic, w, h, max] = header;
  const width = Number(w), height = Number(h);
  const offset = `${magic}\n${w} ${h}\n${max}\n`.length;
  const data = bytes.subarray(offset);
  const rgb = magic === "P6"
    ? data.slice(0, width * height * 3)
    : Uint8Array.from({ length: width * height * 3 }, (_, i) => data[Math.floor(i / 3)]);
  return { width, height, rgb };
}

function compare(name: string, tolerance: number): void {
  const ours = decodeJpeg(readFileSync(new URL(`${name}.jpg`, dir)), `${name}.jpg`);
  const ref = readPnm(`${name}.ppm`);
  assertEquals([ours.width, ours.height], [ref.width, ref.height], name);
  let worst = 0;
  for (let i = 0; i < ref.rgb.length; i++) worst = Math.max(worst, Math.abs(ours.rgb[i] - ref.rgb[i]));
  assert(worst <= tolerance, `${name}: max |ours − libjpeg| = ${worst} > ${tolerance}`);
}

test("jpeg: 4:4:4 baseline matches libjpeg-turbo's decode within rounding", () => compare("q90_444", 2));
test("jpeg: 4:2:0 with restart markers matches libjpeg-turbo (no fancy upsampling)", () =>
  compare("q75_420_restart", 2));
test("jpeg: grayscale matches libjpeg-turbo", () => compare("q85_gray", 1));

test("jpeg: progressive and malformed files give ImageError naming the file", () => {
  assertThrows(
    () => decodeJpeg(readFileSync(new URL("progressive.jpg", dir)), "p.jpg"),
    ImageError,
    "p.jpg",
    "progressive",
  );
  assertThrows(() => decodeJpeg(new Uint8Array([0, 1, 2]), "x.jpg"), ImageError, "SOI");
  const good = readFileSync(new URL("q90_444.jpg", dir));
  assertThrows(() => decodeJpeg(good.subarray(0, 400), "cut.jpg"), ImageError, "cut.jpg");
});
