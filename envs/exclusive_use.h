#pragma once
// ExclusiveUse: a scope that claims an env for the calling thread, or throws ConcurrentUseError
// when another thread is inside it (an env's buffers, generator and thread pool are not shared
// safely; a second thread gets a clear error instead of a data race).
#include <atomic>
#include <string>

#include <stx/envs/types.h>

namespace stx::envs::detail {

class ExclusiveUse {
 public:
  ExclusiveUse(std::atomic<bool>& busy, const char* what) : busy_(busy) {
    if (busy_.exchange(true, std::memory_order_acquire)) {
      throw ConcurrentUseError(std::string(what) +
                               " is already in use by another thread: one env must be stepped and reset by one thread "
                               "at a time (give each thread its own env)");
    }
  }
  ~ExclusiveUse() { busy_.store(false, std::memory_order_release); }
  ExclusiveUse(const ExclusiveUse&) = delete;
  ExclusiveUse& operator=(const ExclusiveUse&) = delete;

 private:
  std::atomic<bool>& busy_;
};

}  // namespace stx::envs::detail
