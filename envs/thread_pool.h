#pragma once
// A small fixed pool of std::threads that runs one indexed batch of tasks at a time; the
// calling thread works too and run() returns when every task is done.
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace stx::envs {

class ThreadPool {
 public:
  explicit ThreadPool(int64_t num_threads);  // total threads including the caller
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Calls fn(i) for i in [0, n), spread over the threads; rethrows the first exception.
  void run(int64_t n, const std::function<void(int64_t)>& fn);
  int64_t size() const { return static_cast<int64_t>(workers_.size()) + 1; }

 private:
  void work(int64_t worker);
  void run_share(int64_t share);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, finished_;
  const std::function<void(int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  uint64_t generation_ = 0;
  int64_t pending_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

}  // namespace stx::envs
