#pragma once
// Internal: small RAII layer over the HDF5 C library for the readers and writers. Every
// failure throws a c10::Error naming the file, the object and what was expected; HDF5's own
// error printing is switched off. Calls are serialised with h5::lock() because the Debian
// libhdf5 is built without thread safety.
#include <hdf5.h>

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace stx::data::h5 {

// Hold while calling into HDF5 (recursive, so helpers may nest).
std::unique_lock<std::recursive_mutex> lock();
// Called first thing in a process forked while lock() was held (the isolated reader's child).
void mark_forked_child();

// Owns one HDF5 identifier of any kind and closes it with the matching H5*close.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  Handle(Handle&& other) noexcept : id_(other.id_) { other.id_ = -1; }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle();
  hid_t get() const { return id_; }

 private:
  hid_t id_ = -1;
};

// An open file, group or dataset together with the names used in error messages.
struct Node {
  Handle handle;
  std::string file;
  std::string path;  // "/" for the file itself
  hid_t id() const { return handle.get(); }
  std::string where() const { return file + ":" + path; }
  std::string child_path(const std::string& name) const;
};

Node open_file(const std::string& path);    // read-only; clear error if missing/not HDF5/corrupt
Node create_file(const std::string& path);  // truncates

bool has(const Node& loc, const std::string& name);  // name may be "a/b"
Node open(const Node& loc, const std::string& name, const std::string& expected = "");
bool is_group(const Node& node);
std::vector<std::string> children(const Node& group);  // link names, in name order

std::vector<int64_t> shape(const Node& dataset);
bool is_string_dataset(const Node& node);
// Numeric dataset (integers, floats, HDF5/h5py booleans) in the closest torch dtype.
// With `as`, HDF5 converts while reading (one serial pass, no second buffer); an integer
// conversion that narrows is range-checked instead (an error, never a saturated value), and
// uint64 values above 2^63 - 1 are an error. The declared size must fit what the file stores.
at::Tensor read_array(const Node& dataset, std::optional<at::ScalarType> as = std::nullopt);
// The CSR matrix stored in `group` as indptr/indices/data ([rows, cols] with rows compressed):
// every length is checked against the shape before the arrays are read, then as checked_csr.
at::Tensor read_csr(const Node& group, int64_t rows, int64_t cols, std::optional<at::ScalarType> dtype);
// 1-D or scalar string dataset (fixed or variable length).
std::vector<std::string> read_strings(const Node& dataset);

bool has_attr(const Node& node, const std::string& name);
std::optional<std::string> attr_string(const Node& node, const std::string& name);
std::vector<std::string> attr_strings(const Node& node, const std::string& name);  // empty if absent
bool attr_bool(const Node& node, const std::string& name, bool fallback);  // int or h5py bool enum
std::optional<std::vector<int64_t>> attr_ints(const Node& node, const std::string& name);
// Every string-valued attribute (array attributes joined with ","); other types are skipped.
std::map<std::string, std::string> string_attrs(const Node& node);

Node create_group(const Node& loc, const std::string& name);
void write_array(const Node& loc, const std::string& name, const at::Tensor& values);
// Variable-length UTF-8 (what h5py/anndata write) or fixed-length ASCII (what 10x writes).
void write_strings(const Node& loc, const std::string& name, const std::vector<std::string>& values,
                   bool variable_length = true);
void set_attr(const Node& node, const std::string& name, const std::string& value);
void set_attr(const Node& node, const std::string& name, const std::vector<std::string>& values);
void set_attr(const Node& node, const std::string& name, const std::vector<int64_t>& values);
void set_attr_bool(const Node& node, const std::string& name, bool value);

}  // namespace stx::data::h5
