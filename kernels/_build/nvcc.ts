// Finding nvcc and the flags every kernel library is built with.
import { execFileSync } from "node:child_process";
import process from "node:process";
import { DeviceUnavailableError } from "../../core/errors.ts";

/** A usable nvcc: how to run it and what it reported as its version. */
export interface Nvcc {
  /** Command or path to run. */
  command: string;
  /** Full `--version` output plus nvcc's own flag variables (part of every fingerprint). */
  version: string;
  /** CUDA release as [major, minor]. */
  release: [number, number];
}

// Oldest CUDA release the kernels are written for (sm_90a features, C++17 in device code).
const MIN_RELEASE: readonly [number, number] = [12, 4];

const INSTALL_HINT = "install the CUDA toolkit >= 12.4 with nvcc on PATH (or set ATTNZOO_NVCC to nvcc's path), " +
  "or set ATTNZOO_LIB_DIR to a folder of prebuilt libattnzoo_*.so";

/** Compile flags shared by objects and libraries. */
export const COMPILE_FLAGS: readonly string[] = [
  "-O3",
  "-std=c++17",
  "-Xcompiler",
  "-fPIC,-Wall,-Werror",
  "-Werror",
  "all-warnings",
  "-gencode=arch=compute_90a,code=sm_90a",
  "-gencode=arch=compute_80,code=sm_80",
];

/** Libraries to link when a library's sources include cuBLAS headers. */
export const CUBLAS_LIBS: readonly string[] = ["-lcublasLt", "-lcublas"];

/**
 * The first nvcc that runs, from `explicit`, $ATTNZOO_NVCC, `nvcc` on PATH, $CUDA_HOME/bin/nvcc or
 * /usr/local/cuda/bin/nvcc. Throws DeviceUnavailableError("cuda") naming what to install when
 * there is none or it is older than 12.4.
 */
export function findNvcc(explicit?: string): Nvcc {
  const env = process.env;
  const candidates = explicit !== undefined
    ? [explicit]
    : [env.ATTNZOO_NVCC, "nvcc", env.CUDA_HOME && `${env.CUDA_HOME}/bin/nvcc`, "/usr/local/cuda/bin/nvcc"]
      .filter((c): c is string => typeof c === "string" && c !== "");
  for (const command of candidates) {
    let version: string;
    try {
      version = execFileSync(command, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch {
      continue;
    }
    const match = /release (\d+)\.(\d+)/.exec(version);
    if (match === null) {
      throw new DeviceUnavailableError(
        "cuda",
        `\`${command} --version\` does not report a CUDA release; ${INSTALL_HINT}`,
      );
    }
    const release: [number, number] = [Number(match[1]), Number(match[2])];
    if (release[0] < MIN_RELEASE[0] || (release[0] === MIN_RELEASE[0] && release[1] < MIN_RELEASE[1])) {
      throw new DeviceUnavailableError("cuda", `${command} is CUDA ${release.join(".")}; ${INSTALL_HINT}`);
    }
    // nvcc reads these itself, so they change what it builds.
    const extra = ["NVCC_PREPEND_FLAGS", "NVCC_APPEND_FLAGS"].map((name) => `${name}=${env[name] ?? ""}`);
    return { command, version: [version, ...extra].join("\n"), release };
  }
  throw new DeviceUnavailableError("cuda", `nvcc not found (tried ${candidates.join(", ")}); ${INSTALL_HINT}`);
}

/** Runs nvcc; on failure throws DeviceUnavailableError("cuda") with its full diagnostics. */
export function runNvcc(nvcc: Nvcc, args: readonly string[], what: string): void {
  try {
    execFileSync(nvcc.command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    const output = `${stdout ?? ""}${stderr ?? ""}`.trim() || String(error);
    throw new DeviceUnavailableError(
      "cuda",
      `nvcc failed to build ${what}:\n${nvcc.command} ${args.join(" ")}\n${output}`,
    );
  }
}
