// A small C library that exercises every convention of core/ffi: scalar types, host buffers read
// and written during the call, opaque u64 handles owned by native code, and i32 statuses with a
// message fetched through tl_last_error.
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char last_error[256] = "";

static int fail(int status, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, args);
  va_end(args);
  return status;
}

// Writes the last error, NUL-terminated and truncated to len bytes.
int32_t tl_last_error(char* buf, int32_t len) {
  if (buf == NULL || len <= 0) return 1;
  snprintf(buf, (size_t)len, "%s", last_error);
  return 0;
}

int32_t tl_add_i32(int32_t a, int32_t b) { return a + b; }
uint32_t tl_u32_not(uint32_t x) { return ~x; }
float tl_f32_half(float x) { return x * 0.5f; }
uint64_t tl_u64_echo(uint64_t x) { return x; }
int64_t tl_i64_negate(int64_t x) { return -x; }
void* tl_pointer_from(uint64_t address) { return (void*)(uintptr_t)address; }
int32_t tl_is_null(const void* p) { return p == NULL; }
void tl_increment(int32_t* counter) { counter[0] += 1; }

// Sums in double so the result is exact for the small integers the tests use.
double tl_sum_f32(const float* x, int32_t n) {
  double total = 0;
  for (int32_t i = 0; i < n; i++) total += x[i];
  return total;
}

int32_t tl_scale_into(const float* x, float* y, int32_t n, float factor) {
  if (n < 0) return fail(2, "tl_scale_into: negative length %d", n);
  for (int32_t i = 0; i < n; i++) y[i] = x[i] * factor;
  return 0;
}

// A handle is the address of a native block that keeps its own length, like device memory.
typedef struct {
  uint64_t count;
  float values[];
} Block;

uint64_t tl_alloc(uint64_t count) {
  Block* block = malloc(sizeof(Block) + count * sizeof(float));
  if (block == NULL) return 0;
  block->count = count;
  memset(block->values, 0, count * sizeof(float));
  return (uint64_t)(uintptr_t)block;
}

int32_t tl_write(uint64_t handle, const float* src, uint64_t count) {
  Block* block = (Block*)(uintptr_t)handle;
  if (count > block->count) {
    return fail(3, "tl_write: %llu values into a block of %llu", (unsigned long long)count,
                (unsigned long long)block->count);
  }
  memcpy(block->values, src, count * sizeof(float));
  return 0;
}

int32_t tl_read(uint64_t handle, float* dst, uint64_t count) {
  Block* block = (Block*)(uintptr_t)handle;
  if (count > block->count) {
    return fail(3, "tl_read: %llu values from a block of %llu", (unsigned long long)count,
                (unsigned long long)block->count);
  }
  memcpy(dst, block->values, count * sizeof(float));
  return 0;
}

// Writes the block's length through a caller buffer, as native functions return extra results.
int32_t tl_count(uint64_t handle, uint64_t* out) {
  out[0] = ((Block*)(uintptr_t)handle)->count;
  return 0;
}

int32_t tl_free(uint64_t handle) {
  free((void*)(uintptr_t)handle);
  return 0;
}

int32_t tl_fail(int32_t code) { return fail(code, "tl_fail: asked to fail with code %d", code); }
