// The last-error record every C-ABI library of attnzoo keeps (the runtime and each plugin's):
// "op: message" of the calling thread's last failure, and the copy its *_last_error export hands
// out. Each library owns one `static thread_local ErrorRecord<N>` in one source file.
#pragma once
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

namespace attnzoo {

template <int N>
struct ErrorRecord {
  char text[N] = "";

  // Records "op: " followed by the formatted message, truncated to fit; returns `status`.
  int record(int status, const char* op, const char* fmt, va_list args) {
    const int used = snprintf(text, N, "%s: ", op);
    if (used < 0 || used >= N) return status;
    vsnprintf(text + used, N - used, fmt, args);
    return status;
  }

  // Copies the text into buf (NUL-terminated, at most len bytes); returns the text's full length.
  int copy_to(char* buf, int len) const {
    const int n = static_cast<int>(strlen(text));
    if (buf != nullptr && len > 0) {
      const int copy = n < len - 1 ? n : len - 1;
      memcpy(buf, text, copy);
      buf[copy] = '\0';
    }
    return n;
  }
};

}  // namespace attnzoo
