// The runtime's context (one device, one stream), its error reporting, and a caching allocator:
// freed blocks go to per-size-class free lists and are handed out again without cudaMalloc. All
// work runs on the one stream, so a block freed after an op was queued is safe to reuse by the
// next op on that stream. Host copies are synchronous: the host buffer is only used during the call.
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "_error_record.h"
#include "_runtime.h"

namespace {

thread_local attnzoo::ErrorRecord<1024> last_error;

struct Context {
  bool ready = false;
  int device = 0;
  cudaStream_t stream = nullptr;
  void* pinned = nullptr;  // staging buffer for host copies
  std::mutex lock;
  std::map<size_t, std::vector<void*>> free_lists;  // size class -> cached blocks
  std::unordered_map<void*, size_t> live;           // block -> size class
  uint64_t live_bytes = 0, peak_bytes = 0, cached_bytes = 0;
};

Context ctx;
constexpr size_t kPinnedBytes = 8u << 20;

// Size classes: 512-byte multiples up to 1 MiB keep small tensors tight; above that, steps of an
// eighth of the next power of two bound the waste at 25% and let blocks of similar size be reused.
size_t size_class(size_t bytes) {
  if (bytes <= (1u << 20)) return ((bytes + 511) / 512) * 512;
  size_t pow2 = 1u << 20;
  while (pow2 < bytes) pow2 <<= 1;
  size_t step = pow2 / 8;
  return ((bytes + step - 1) / step) * step;
}

int release_cache() {
  for (auto& [cls, blocks] : ctx.free_lists) {
    for (void* p : blocks) {
      cudaError_t err = cudaFree(p);
      if (err != cudaSuccess) return az_fail(AZ_CUDA, "empty_cache", "cudaFree: %s", cudaGetErrorString(err));
      ctx.cached_bytes -= cls;
    }
    blocks.clear();
  }
  return AZ_OK;
}

}  // namespace

int az_fail(int status, const char* op, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  const int result = last_error.record(status, op, fmt, args);
  va_end(args);
  return result;
}

cudaStream_t az_stream() { return ctx.stream; }

int az_alloc(const char* op, size_t bytes, void** out) {
  size_t cls = size_class(bytes == 0 ? 1 : bytes);
  std::lock_guard<std::mutex> guard(ctx.lock);
  void* ptr = nullptr;
  auto it = ctx.free_lists.find(cls);
  if (it != ctx.free_lists.end() && !it->second.empty()) {
    ptr = it->second.back();
    it->second.pop_back();
    ctx.cached_bytes -= cls;
  } else {
    cudaError_t err = cudaMalloc(&ptr, cls);
    if (err == cudaErrorMemoryAllocation) {
      // out of memory: give the cached blocks back to the driver and try once more
      cudaGetLastError();
      cudaError_t sync = cudaStreamSynchronize(ctx.stream);
      if (sync != cudaSuccess) {
        return az_fail(AZ_CUDA, op, "synchronize before freeing the cache: %s", cudaGetErrorString(sync));
      }
      int status = release_cache();
      if (status != AZ_OK) return status;
      err = cudaMalloc(&ptr, cls);
    }
    if (err != cudaSuccess) {
      cudaGetLastError();
      return az_fail(err == cudaErrorMemoryAllocation ? AZ_OOM : AZ_CUDA, op, "cannot allocate %zu bytes: %s", bytes,
                     cudaGetErrorString(err));
    }
  }
  ctx.live[ptr] = cls;
  ctx.live_bytes += cls;
  if (ctx.live_bytes > ctx.peak_bytes) ctx.peak_bytes = ctx.live_bytes;
  *out = ptr;
  return AZ_OK;
}

void az_release(void* ptr) {
  std::lock_guard<std::mutex> guard(ctx.lock);
  auto it = ctx.live.find(ptr);
  if (it == ctx.live.end()) return;
  size_t cls = it->second;
  ctx.live.erase(it);
  ctx.live_bytes -= cls;
  ctx.free_lists[cls].push_back(ptr);
  ctx.cached_bytes += cls;
}

/** Copies this thread's last error message into `buf` (NUL-terminated); returns its length. */
AZ_API int attnzoo_last_error(char* buf, int len) {
  return last_error.copy_to(buf, len);
}

/** Selects `device`, creates the context's stream and staging buffer. Idempotent. */
AZ_API int attnzoo_init(int device) {
  if (ctx.ready) {
    if (device != ctx.device) return az_fail(AZ_INVALID, "init", "already initialised on device %d", ctx.device);
    return AZ_OK;
  }
  int count = 0;
  AZ_CUDA_CHECK("init", cudaGetDeviceCount(&count));
  if (device < 0 || device >= count)
    return az_fail(AZ_INVALID, "init", "device %d out of range (%d GPUs)", device, count);
  AZ_CUDA_CHECK("init", cudaSetDevice(device));
  AZ_CUDA_CHECK("init", cudaStreamCreateWithFlags(&ctx.stream, cudaStreamNonBlocking));
  AZ_CUDA_CHECK("init", cudaMallocHost(&ctx.pinned, kPinnedBytes));
  ctx.device = device;
  ctx.ready = true;
  return AZ_OK;
}

/** Writes the name and compute capability of the device into `name` (NUL-terminated) and `cc`. */
AZ_API int attnzoo_device_info(char* name, int len, int* cc) {
  cudaDeviceProp prop;
  AZ_CUDA_CHECK("device_info", cudaGetDeviceProperties(&prop, ctx.device));
  snprintf(name, len, "%s", prop.name);
  cc[0] = prop.major * 10 + prop.minor;
  return AZ_OK;
}

/** Allocates `bytes` of device memory; the handle goes to out[0]. */
AZ_API int attnzoo_alloc(uint64_t bytes, uint64_t* out) {
  if (!ctx.ready) return az_fail(AZ_INVALID, "alloc", "attnzoo_init was not called");
  void* ptr = nullptr;
  int status = az_alloc("alloc", bytes, &ptr);
  if (status != AZ_OK) return status;
  out[0] = reinterpret_cast<uint64_t>(ptr);
  return AZ_OK;
}

/** Returns a block to the cache; unknown handles are an error. */
AZ_API int attnzoo_free(uint64_t handle) {
  void* ptr = az_ptr<void>(handle);
  {
    std::lock_guard<std::mutex> guard(ctx.lock);
    if (ctx.live.find(ptr) == ctx.live.end()) {
      return az_fail(AZ_INVALID, "free", "handle 0x%llx is not a live allocation", (unsigned long long)handle);
    }
  }
  az_release(ptr);
  return AZ_OK;
}

/** Copies `bytes` from host `src` to device `dst`, staged through pinned memory; returns when done. */
AZ_API int attnzoo_upload(uint64_t dst, const void* src, uint64_t bytes) {
  const char* from = static_cast<const char*>(src);
  char* to = az_ptr<char>(dst);
  for (uint64_t done = 0; done < bytes; done += kPinnedBytes) {
    size_t chunk = bytes - done < kPinnedBytes ? bytes - done : kPinnedBytes;
    // the previous chunk's copy finished (synchronised below) before the staging buffer is reused
    memcpy(ctx.pinned, from + done, chunk);
    AZ_CUDA_CHECK("upload", cudaMemcpyAsync(to + done, ctx.pinned, chunk, cudaMemcpyHostToDevice, ctx.stream));
    AZ_CUDA_CHECK("upload", cudaStreamSynchronize(ctx.stream));
  }
  return AZ_OK;
}

/** Copies `bytes` from device `src` to host `dst` after all queued work; returns when done. */
AZ_API int attnzoo_download(void* dst, uint64_t src, uint64_t bytes) {
  char* to = static_cast<char*>(dst);
  const char* from = az_ptr<const char>(src);
  if (bytes == 0) AZ_CUDA_CHECK("download", cudaStreamSynchronize(ctx.stream));
  for (uint64_t done = 0; done < bytes; done += kPinnedBytes) {
    size_t chunk = bytes - done < kPinnedBytes ? bytes - done : kPinnedBytes;
    AZ_CUDA_CHECK("download", cudaMemcpyAsync(ctx.pinned, from + done, chunk, cudaMemcpyDeviceToHost, ctx.stream));
    AZ_CUDA_CHECK("download", cudaStreamSynchronize(ctx.stream));
    memcpy(to + done, ctx.pinned, chunk);
  }
  return AZ_OK;
}

/** Waits for all queued work; reports errors of kernels that ran asynchronously. */
// The stream every runtime op runs on, for plugin kernels that must order against them.
AZ_API int attnzoo_stream(uint64_t* out) {
  if (!ctx.ready) return az_fail(AZ_INVALID, "stream", "attnzoo_init was not called");
  *out = reinterpret_cast<uint64_t>(ctx.stream);
  return AZ_OK;
}

AZ_API int attnzoo_synchronize() {
  AZ_CUDA_CHECK("synchronize", cudaStreamSynchronize(ctx.stream));
  return AZ_OK;
}

/** out = [live bytes, peak live bytes, cached (free) bytes, live blocks]. */
AZ_API int attnzoo_memory_stats(uint64_t* out) {
  std::lock_guard<std::mutex> guard(ctx.lock);
  out[0] = ctx.live_bytes;
  out[1] = ctx.peak_bytes;
  out[2] = ctx.cached_bytes;
  out[3] = ctx.live.size();
  return AZ_OK;
}

/** Starts a new peak: peak = live. */
AZ_API int attnzoo_reset_peak() {
  std::lock_guard<std::mutex> guard(ctx.lock);
  ctx.peak_bytes = ctx.live_bytes;
  return AZ_OK;
}

/** Returns every cached block to the driver (after queued work finishes). */
AZ_API int attnzoo_empty_cache() {
  AZ_CUDA_CHECK("empty_cache", cudaStreamSynchronize(ctx.stream));
  std::lock_guard<std::mutex> guard(ctx.lock);
  return release_cache();
}
