// Run as a child process by exit_test.ts: one large matmul, then print the thread count and how
// many products ran in parallel. The process must exit on its own right after.
import { cpuParallelJobs, cpuThreads } from "../../core/backends/cpu/cpu_backend.ts";
import { matmul } from "../../core/ops.ts";
import { randn } from "../../core/random.ts";

using a = randn([256, 256], { seed: 1 });
using c = matmul(a, a);
console.log(JSON.stringify({ threads: cpuThreads(), parallelJobs: cpuParallelJobs(), value: c.toTypedArray()[0] }));
