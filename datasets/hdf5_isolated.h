#pragma once
// Internal: the isolated HDF5 reader. libhdf5 (1.10.8 in Debian bookworm) crashes on some
// corrupt files (SIGSEGV/SIGABRT in variable-length string reads, attribute iteration, vlen
// reclaim and at library shutdown), which no check before the call can rule out. So the 10x
// and h5ad readers parse the file in a forked child process and pass the result back through a
// pipe: a crash, an abort or a hang (past STX_HDF5_TIMEOUT seconds, default 600) in the child
// becomes a c10::Error naming the file in the caller, whose own HDF5 state never touched the
// file. STX_HDF5_ISOLATE=0 reads in-process instead (trusted files only).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace stx::data::h5 {

// Child side of the channel: blocking writes to the pipe.
class Sink {
 public:
  explicit Sink(int fd) : fd_(fd) {}
  void begin();  // marks the start of the result: an error after this is a broken reply
  bool begun() const { return begun_; }
  void bytes(const void* data, size_t n);
  void u64(uint64_t v) { bytes(&v, sizeof v); }
  void str(const std::string& s);
  void strs(const std::vector<std::string>& v);
  void tensor(const at::Tensor& t);  // undefined, strided, sparse CSR or CSC

 private:
  int fd_;
  bool begun_ = false;
};

// Parent side: reads with the child's deadline; every size is checked before it is used.
class Source {
 public:
  Source(int fd, int pid, double deadline, std::string file) : fd_(fd), pid_(pid), deadline_(deadline), file_(std::move(file)) {}
  void bytes(void* data, size_t n);
  uint64_t u64();
  std::string str();
  std::vector<std::string> strs();
  at::Tensor tensor();
  [[noreturn]] void fail(const std::string& why) const;  // names the file and how the child ended

 private:
  size_t count(uint64_t limit);
  int fd_, pid_;
  double deadline_;
  std::string file_;
};

// True unless the environment sets STX_HDF5_ISOLATE=0.
bool isolation_enabled();

// Runs read_and_send(sink) in a child process (the HDF5 lock held across the fork, so the
// child's HDF5 state is consistent); read_and_send must do all HDF5 work first and write to the
// sink (after sink.begin()) only once it has the result. A c10::Error in the child is rethrown here with its message.
// receive(source) then decodes the result. After the result the child closes the HDF5 library
// (H5close) and confirms: a crash there (libhdf5's shutdown on a corrupt file) is an error too.
void run_isolated(const std::string& file, const std::function<void(Sink&)>& read_and_send,
                  const std::function<void(Source&)>& receive);

// Reads in a child when isolation is on (encode/decode pass the value through the channel),
// else calls read() here.
template <typename T>
T read_isolated(const std::string& file, const std::function<T()>& read,
                const std::function<void(Sink&, const T&)>& encode, const std::function<T(Source&)>& decode) {
  if (!isolation_enabled()) return read();
  T out{};
  run_isolated(
      file,
      [&](Sink& sink) {
        const T value = read();
        sink.begin();
        encode(sink, value);
      },
      [&](Source& source) { out = decode(source); });
  return out;
}

}  // namespace stx::data::h5
