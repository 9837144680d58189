#include "datasets/hdf5_isolated.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <hdf5.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "datasets/hdf5_io.h"

namespace stx::data::h5 {
namespace {

constexpr char kError = 'E', kData = 'D', kClosed = 'K';
constexpr uint64_t kMaxDims = 8;
constexpr uint64_t kMaxCount = uint64_t(1) << 48;  // elements, bytes or strings in one item

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double timeout_seconds() {
  const char* s = std::getenv("STX_HDF5_TIMEOUT");
  if (s == nullptr || *s == '\0') return 600.0;
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  TORCH_CHECK(end != s && *end == '\0' && std::isfinite(v) && v > 0, "STX_HDF5_TIMEOUT must be a positive number of "
              "seconds, got '", s, "'");
  return v;
}

bool known_dtype(int64_t t) {
  switch (static_cast<at::ScalarType>(t)) {
    case at::kBool: case at::kByte: case at::kChar: case at::kShort: case at::kInt: case at::kLong:
    case at::kHalf: case at::kBFloat16: case at::kFloat: case at::kDouble:
      return true;
    default:
      return false;
  }
}

// Kills and reaps the child unless it was reaped already.
struct Child {
  pid_t pid;
  bool reaped = false;
  ~Child() {
    if (reaped) return;
    ::kill(pid, SIGKILL);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
  }
};

// How the child ended, in words, waiting until `deadline` (then killing it).
std::string wait_child(Child& child, double deadline) {
  int st = 0;
  while (true) {
    const pid_t r = ::waitpid(child.pid, &st, WNOHANG);
    if (r == child.pid) break;
    if (r < 0 && errno != EINTR) return "lost the reader process";
    if (now() > deadline) {
      ::kill(child.pid, SIGKILL);
      while (::waitpid(child.pid, &st, 0) < 0 && errno == EINTR) {
      }
      child.reaped = true;
      return "the reader did not finish in time";
    }
    ::usleep(2000);
  }
  child.reaped = true;
  if (WIFSIGNALED(st)) {
    const int sig = WTERMSIG(st);
    return std::string("the HDF5 library crashed in the isolated reader (signal ") + std::to_string(sig) + ", " +
           ::strsignal(sig) + ")";
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return "";
  return "the isolated reader exited with status " + std::to_string(WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

[[noreturn]] void child_main(int fd, const std::function<void(Sink&)>& read_and_send) {
  mark_forked_child();
  // One thread: the parent's worker threads do not exist in this process.
  at::set_num_threads(1);
  Sink sink(fd);
  try {
    read_and_send(sink);
  } catch (const std::exception& e) {
    if (sink.begun()) ::_exit(3);  // a broken reply; the parent reports it
    const c10::Error* ce = dynamic_cast<const c10::Error*>(&e);
    const char tag = kError;
    sink.bytes(&tag, 1);
    sink.str(ce ? ce->what_without_backtrace() : e.what());
    ::_exit(0);
  }
  H5close();  // libhdf5's shutdown: it crashes on some corrupt files, here rather than in the caller
  const char tag = kClosed;
  sink.bytes(&tag, 1);
  ::_exit(0);
}

}  // namespace

void Sink::begin() {
  const char tag = kData;
  bytes(&tag, 1);
  begun_ = true;
}

void Sink::bytes(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) ::_exit(4);  // the parent went away
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void Sink::str(const std::string& s) {
  u64(s.size());
  bytes(s.data(), s.size());
}

void Sink::strs(const std::vector<std::string>& v) {
  u64(v.size());
  for (const auto& s : v) str(s);
}

void Sink::tensor(const at::Tensor& t) {
  if (!t.defined()) return u64(0);
  if (t.layout() == at::kSparseCsr || t.layout() == at::kSparseCsc) {
    const bool csr = t.layout() == at::kSparseCsr;
    u64(csr ? 2 : 3);
    u64(static_cast<uint64_t>(t.size(0)));
    u64(static_cast<uint64_t>(t.size(1)));
    tensor(csr ? t.crow_indices() : t.ccol_indices());
    tensor(csr ? t.col_indices() : t.row_indices());
    return tensor(t.values());
  }
  TORCH_CHECK(t.layout() == at::kStrided, "isolated HDF5 reader: cannot pass a tensor of layout ", t.layout());
  const at::Tensor c = t.contiguous();
  u64(1);
  u64(static_cast<uint64_t>(c.scalar_type()));
  u64(static_cast<uint64_t>(c.dim()));
  for (int64_t d : c.sizes()) u64(static_cast<uint64_t>(d));
  bytes(c.data_ptr(), c.nbytes());
}

[[noreturn]] void Source::fail(const std::string& why) const {
  TORCH_CHECK(false, file_, ": cannot read this HDF5 file: ", why, " (the file is corrupt or not what it claims to be)");
}

void Source::bytes(void* data, size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    const double left = deadline_ - now();
    if (left <= 0) fail("the reader did not finish in time (STX_HDF5_TIMEOUT)");
    pollfd pfd{fd_, POLLIN, 0};
    const int r = ::poll(&pfd, 1, static_cast<int>(std::min(left * 1000.0, 200.0)) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;  // time-out slice: check the deadline again
    const ssize_t got = ::read(fd_, p, n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) fail("the reader stopped before sending the whole result");
    p += got;
    n -= static_cast<size_t>(got);
  }
}

uint64_t Source::u64() {
  uint64_t v = 0;
  bytes(&v, sizeof v);
  return v;
}

size_t Source::count(uint64_t limit) {
  const uint64_t n = u64();
  if (n > limit) fail("malformed reply (a count of " + std::to_string(n) + ")");
  return static_cast<size_t>(n);
}

std::string Source::str() {
  std::string s(count(kMaxCount), '\0');
  bytes(s.data(), s.size());
  return s;
}

std::vector<std::string> Source::strs() {
  std::vector<std::string> v(count(kMaxCount / 64));
  for (auto& s : v) s = str();
  return v;
}

at::Tensor Source::tensor() {
  const uint64_t kind = u64();
  if (kind == 0) return at::Tensor();
  if (kind == 2 || kind == 3) {
    const int64_t rows = static_cast<int64_t>(count(kMaxCount)), cols = static_cast<int64_t>(count(kMaxCount));
    const at::Tensor compressed = tensor(), plain = tensor(), values = tensor();
    if (!compressed.defined() || !plain.defined() || !values.defined()) fail("malformed reply (sparse parts)");
    const at::Layout layout = kind == 2 ? at::kSparseCsr : at::kSparseCsc;
    // The child's result is checked again here, so that the caller never holds an invalid tensor.
    at::_validate_sparse_compressed_tensor_args(compressed, plain, values, {rows, cols}, layout);
    return kind == 2 ? at::_sparse_csr_tensor_unsafe(compressed, plain, values, {rows, cols},
                                                     values.options().layout(layout))
                     : at::_sparse_csc_tensor_unsafe(compressed, plain, values, {rows, cols},
                                                     values.options().layout(layout));
  }
  if (kind != 1) fail("malformed reply (tensor kind " + std::to_string(kind) + ")");
  const uint64_t dtype = u64();
  if (!known_dtype(static_cast<int64_t>(dtype))) fail("malformed reply (dtype " + std::to_string(dtype) + ")");
  std::vector<int64_t> sizes(count(kMaxDims));
  uint64_t numel = 1;
  for (auto& s : sizes) {
    s = static_cast<int64_t>(count(kMaxCount));
    numel = s == 0 ? 0 : (numel > kMaxCount / static_cast<uint64_t>(s) ? kMaxCount + 1 : numel * s);
  }
  if (numel > kMaxCount) fail("malformed reply (too many elements)");
  at::Tensor t = at::empty(sizes, at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype)));
  bytes(t.data_ptr(), t.nbytes());
  if (t.scalar_type() == at::kBool) t = t.view(at::kByte).ne(0);  // only 0/1 may live in a bool tensor
  return t;
}

bool isolation_enabled() {
  const char* s = std::getenv("STX_HDF5_ISOLATE");
  return s == nullptr || std::string(s) != "0";
}

void run_isolated(const std::string& file, const std::function<void(Sink&)>& read_and_send,
                  const std::function<void(Source&)>& receive) {
  const double deadline = now() + timeout_seconds();
  int fds[2];
  TORCH_CHECK(::pipe2(fds, O_CLOEXEC) == 0, file, ": cannot start the isolated HDF5 reader (pipe: ",
              std::strerror(errno), ")");
  pid_t pid;
  {
    auto guard = lock();  // no other thread is inside HDF5 while the child's copy is made
    pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      child_main(fds[1], read_and_send);
    }
  }
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    TORCH_CHECK(false, file, ": cannot start the isolated HDF5 reader (fork: ", std::strerror(errno), ")");
  }
  Child child{pid};
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fds[0]};
  Source source(fds[0], pid, deadline, file);
  char tag = 0;
  try {
    source.bytes(&tag, 1);
  } catch (const c10::Error&) {
    const std::string how = wait_child(child, deadline);
    source.fail(how.empty() ? "the reader sent no result" : how);
  }
  if (tag == kError) {
    const std::string message = source.str();
    wait_child(child, deadline);
    TORCH_CHECK(false, message);
  }
  if (tag != kData) source.fail("malformed reply");
  try {
    receive(source);
    source.bytes(&tag, 1);
  } catch (const c10::Error&) {
    const std::string how = wait_child(child, deadline);
    if (!how.empty()) source.fail(how);
    throw;
  }
  if (tag != kClosed) source.fail("malformed reply");
  const std::string how = wait_child(child, deadline);
  if (!how.empty()) source.fail(how);
}

}  // namespace stx::data::h5
