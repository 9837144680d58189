#include "datasets/hdf5_io.h"

#include <stx/data/text.h>

#include "datasets/sparse_util.h"

#include <ATen/ops/empty.h>
#include <c10/util/Exception.h>
#include <c10/util/StringUtil.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

namespace stx::data::h5 {
namespace {

// HDF5 prints a stack of errors to stderr on every failure by default; the readers turn each
// failure into one clear exception instead.
void silence_hdf5() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

Handle checked(hid_t id, const std::string& what) {
  TORCH_CHECK(id >= 0, what);
  return Handle(id);
}

at::ScalarType torch_type_for(hid_t type, const std::string& where) {
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  if (cls == H5T_ENUM) return at::kBool;  // h5py stores numpy bool as an int8 enum FALSE/TRUE
  if (cls == H5T_FLOAT) {
    if (size == 8) return at::kDouble;
    if (size == 4) return at::kFloat;
    if (size == 2) return at::kHalf;
  }
  if (cls == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
    if (size == 1) return is_signed ? at::kChar : at::kByte;
    if (size == 2) return is_signed ? at::kShort : at::kInt;
    if (size == 4) return is_signed ? at::kInt : at::kLong;
    if (size == 8) return at::kLong;  // uint64: read_array checks that every value fits
  }
  TORCH_CHECK(false, where, ": expected a numeric dataset (integer, float or bool), got HDF5 type class ",
              static_cast<int>(cls), " of ", size, " bytes");
}

hid_t native_type_for(at::ScalarType t) {
  switch (t) {
    case at::kDouble: return H5T_NATIVE_DOUBLE;
    case at::kFloat: return H5T_NATIVE_FLOAT;
    case at::kChar: return H5T_NATIVE_INT8;
    case at::kByte: return H5T_NATIVE_UINT8;
    case at::kShort: return H5T_NATIVE_INT16;
    case at::kInt: return H5T_NATIVE_INT32;
    case at::kLong: return H5T_NATIVE_INT64;
    case at::kBool: return H5T_NATIVE_INT8;  // read as 0/1 bytes, stored in a bool tensor
    default: return -1;
  }
}

int64_t element_count(hid_t space) {
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  return static_cast<int64_t>(n);
}

// A dataset's declared size must be one the file can hold before anything is allocated for it:
// at most kMaxInflation times the bytes it occupies (deflate's limit is about 1032:1), or
// kFreeBytes for datasets that are stored sparsely/unwritten (read as fill values).
constexpr uint64_t kMaxInflation = 1100;
constexpr uint64_t kFreeBytes = uint64_t(16) << 20;
// Attributes are small in every format read here; a larger declared count means corruption.
constexpr int64_t kMaxAttrElements = int64_t(1) << 22;

void check_declared_size(hid_t dataset, int64_t n, size_t element_bytes, const std::string& where) {
  TORCH_CHECK(n >= 0, where, ": cannot read its size (file corrupt?)");
  const uint64_t declared = static_cast<uint64_t>(n) > (uint64_t(1) << 56) / std::max<size_t>(element_bytes, 1)
                                ? UINT64_MAX
                                : static_cast<uint64_t>(n) * std::max<size_t>(element_bytes, 1);
  if (declared <= kFreeBytes) return;
  const uint64_t stored = H5Dget_storage_size(dataset);
  TORCH_CHECK(stored > 0 && declared / kMaxInflation <= stored, where, ": declares ", n, " elements (", declared,
              " bytes) but the file stores only ", stored, " bytes for it (file corrupt or crafted)");
}

// Strings become Python str: each must be UTF-8 (the error names the object and entry).
void check_strings_utf8(const std::vector<std::string>& v, const std::string& where) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (!is_valid_utf8(v[i])) check_utf8(v[i], where, 0, ("entry " + std::to_string(i)).c_str());
  }
}

// Strings of a dataset or attribute (`is_attr`), fixed or variable length.
std::vector<std::string> read_string_values(hid_t obj, bool is_attr, const std::string& where) {
  Handle type(is_attr ? H5Aget_type(obj) : H5Dget_type(obj));
  Handle space(is_attr ? H5Aget_space(obj) : H5Dget_space(obj));
  TORCH_CHECK(type.get() >= 0 && space.get() >= 0, where, ": cannot read its type (file corrupt?)");
  TORCH_CHECK(H5Tget_class(type.get()) == H5T_STRING, where, ": expected strings, got HDF5 type class ",
              static_cast<int>(H5Tget_class(type.get())));
  const int64_t n = element_count(space.get());
  std::vector<std::string> out;
  if (n <= 0) return out;
  if (is_attr) {
    TORCH_CHECK(n <= kMaxAttrElements, where, ": attribute declares ", n, " strings (corrupt?)");
  } else {
    check_declared_size(obj, n, std::max<size_t>(H5Tget_size(type.get()), 16), where);
  }
  out.reserve(static_cast<size_t>(n));
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1));
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
    const herr_t rc = is_attr ? H5Aread(obj, mem.get(), ptrs.data())
                              : H5Dread(obj, mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data());
    TORCH_CHECK(rc >= 0, where, ": failed to read variable-length strings (file truncated or corrupt?)");
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    check_strings_utf8(out, where);
    if (is_attr) {
      for (char* p : ptrs) H5free_memory(p);
    } else {
#if H5_VERSION_GE(1, 12, 0)
      H5Treclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
#else
      H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
#endif
    }
    return out;
  }
  const size_t width = H5Tget_size(type.get());
  Handle mem(H5Tcopy(type.get()));
  std::vector<char> buf(width * static_cast<size_t>(n));
  const herr_t rc = is_attr ? H5Aread(obj, mem.get(), buf.data())
                            : H5Dread(obj, mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
  TORCH_CHECK(rc >= 0, where, ": failed to read fixed-length strings (file truncated or corrupt?)");
  const bool space_pad = H5Tget_strpad(type.get()) == H5T_STR_SPACEPAD;
  for (int64_t i = 0; i < n; ++i) {
    const char* p = buf.data() + static_cast<size_t>(i) * width;
    size_t len = strnlen(p, width);
    if (space_pad) while (len > 0 && p[len - 1] == ' ') --len;
    out.emplace_back(p, len);
  }
  check_strings_utf8(out, where);
  return out;
}

Handle string_type(bool variable_length, size_t width) {
  Handle t(H5Tcopy(H5T_C_S1));
  if (variable_length) {
    H5Tset_size(t.get(), H5T_VARIABLE);
    H5Tset_cset(t.get(), H5T_CSET_UTF8);
  } else {
    H5Tset_size(t.get(), std::max<size_t>(width, 1));
    H5Tset_strpad(t.get(), H5T_STR_NULLPAD);
  }
  return t;
}

void write_attr_raw(const Node& node, const std::string& name, hid_t type, hid_t space, const void* data) {
  if (H5Aexists(node.id(), name.c_str()) > 0) H5Adelete(node.id(), name.c_str());
  Handle attr = checked(H5Acreate2(node.id(), name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                        node.where() + ": cannot create attribute '" + name + "'");
  if (data == nullptr) return;  // an empty array attribute has nothing to write
  TORCH_CHECK(H5Awrite(attr.get(), type, data) >= 0, node.where(), ": cannot write attribute '", name, "'");
}

}  // namespace

namespace {
bool in_forked_child = false;
}  // namespace

void mark_forked_child() { in_forked_child = true; }

std::unique_lock<std::recursive_mutex> lock() {
  static std::recursive_mutex m;
  // The isolated reader's child is forked while its parent holds `m`; the child's copy stays
  // locked by a thread that does not exist there, so the (single-threaded) child uses its own.
  static std::recursive_mutex child_m;
  return std::unique_lock<std::recursive_mutex>(in_forked_child ? child_m : m);
}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    Handle tmp(std::move(*this));
    id_ = other.id_;
    other.id_ = -1;
  }
  return *this;
}

Handle::~Handle() {
  if (id_ < 0) return;
  switch (H5Iget_type(id_)) {
    case H5I_FILE: H5Fclose(id_); break;
    case H5I_GROUP: H5Gclose(id_); break;
    case H5I_DATASET: H5Dclose(id_); break;
    case H5I_ATTR: H5Aclose(id_); break;
    case H5I_DATATYPE: H5Tclose(id_); break;
    case H5I_DATASPACE: H5Sclose(id_); break;
    case H5I_GENPROP_LST: H5Pclose(id_); break;
    default: break;
  }
}

std::string Node::child_path(const std::string& name) const {
  return path == "/" ? "/" + name : path + "/" + name;
}

Node open_file(const std::string& path) {
  silence_hdf5();
  std::error_code ec;
  TORCH_CHECK(std::filesystem::is_regular_file(path, ec), "HDF5 file not found: ", path);
  TORCH_CHECK(H5Fis_hdf5(path.c_str()) > 0, path, ": not an HDF5 file (no HDF5 signature; wrong format or corrupt)");
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  TORCH_CHECK(id >= 0, path, ": HDF5 cannot open the file (truncated or corrupt?)");
  return Node{Handle(id), path, "/"};
}

Node create_file(const std::string& path) {
  silence_hdf5();
  const hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  TORCH_CHECK(id >= 0, path, ": cannot create HDF5 file (does the folder exist and is it writable?)");
  return Node{Handle(id), path, "/"};
}

bool has(const Node& loc, const std::string& name) {
  // H5Lexists fails on a missing intermediate group, so check one component at a time.
  std::string prefix;
  size_t start = 0;
  while (start <= name.size()) {
    const size_t slash = name.find('/', start);
    const std::string part = name.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    prefix += (prefix.empty() ? "" : "/") + part;
    if (H5Lexists(loc.id(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return H5Oexists_by_name(loc.id(), name.c_str(), H5P_DEFAULT) > 0;
}

Node open(const Node& loc, const std::string& name, const std::string& expected) {
  const std::string path = loc.child_path(name);
  TORCH_CHECK(has(loc, name), loc.file, ": missing '", path, "'", expected.empty() ? "" : " (expected ",
              expected, expected.empty() ? "" : ")");
  const hid_t id = H5Oopen(loc.id(), name.c_str(), H5P_DEFAULT);
  TORCH_CHECK(id >= 0, loc.file, ": cannot open '", path, "' (file truncated or corrupt?)");
  return Node{Handle(id), loc.file, path};
}

bool is_group(const Node& node) { return H5Iget_type(node.id()) == H5I_GROUP; }

std::vector<std::string> children(const Node& group) {
  std::vector<std::string> names;
  auto cb = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  hsize_t idx = 0;
  TORCH_CHECK(H5Literate(group.id(), H5_INDEX_NAME, H5_ITER_INC, &idx, cb, &names) >= 0, group.where(),
              ": cannot list the group's members (file corrupt?)");
  return names;
}

std::vector<int64_t> shape(const Node& dataset) {
  TORCH_CHECK(H5Iget_type(dataset.id()) == H5I_DATASET, dataset.where(), ": expected a dataset, found a group");
  Handle space(H5Dget_space(dataset.id()));
  const int rank = H5Sget_simple_extent_ndims(space.get());
  TORCH_CHECK(rank >= 0, dataset.where(), ": cannot read its shape (file corrupt?)");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return std::vector<int64_t>(dims.begin(), dims.end());
}

bool is_string_dataset(const Node& node) {
  if (H5Iget_type(node.id()) != H5I_DATASET) return false;
  Handle type(H5Dget_type(node.id()));
  return H5Tget_class(type.get()) == H5T_STRING;
}

at::Tensor read_array(const Node& dataset, std::optional<at::ScalarType> as) {
  const std::vector<int64_t> dims = shape(dataset);
  Handle type(H5Dget_type(dataset.id()));
  const at::ScalarType stored = torch_type_for(type.get(), dataset.where());
  const bool unsigned64 = H5Tget_class(type.get()) == H5T_INTEGER && H5Tget_size(type.get()) == 8 &&
                          H5Tget_sign(type.get()) == H5T_SGN_NONE;
  {
    Handle space(H5Dget_space(dataset.id()));
    check_declared_size(dataset.id(), element_count(space.get()), H5Tget_size(type.get()), dataset.where());
  }
  // HDF5 converts while reading (one serial pass, no second buffer) where that is exact or a
  // float rounding: integers to floats, floats to floats, integers to wider integers. Narrowing
  // integer conversions would saturate silently, so those read the stored type and are checked.
  const bool integer_in = H5Tget_class(type.get()) == H5T_INTEGER;
  const bool signed_in = integer_in && H5Tget_sign(type.get()) == H5T_SGN_2;
  const size_t bytes_in = H5Tget_size(type.get());
  const bool holds_all = !as || *as == at::kBool || at::isFloatingType(*as) || !integer_in ||
                         (*as == at::kByte ? !signed_in && bytes_in == 1
                                           : c10::elementSize(*as) > bytes_in ||
                                                 (c10::elementSize(*as) == bytes_in && signed_in));
  const bool narrowing = !holds_all;
  const bool convert = as && !narrowing && stored != at::kBool && *as != at::kBool && native_type_for(*as) >= 0 &&
                       (at::isFloatingType(*as) || !at::isFloatingType(stored));
  const at::ScalarType st = convert && !unsigned64 ? *as : stored;
  const at::ScalarType storage = st == at::kBool ? at::kChar : st;
  // uint64 is read bit for bit into int64 and checked below, never clipped by HDF5.
  const hid_t mem = unsigned64 ? H5T_NATIVE_UINT64 : st == at::kHalf ? H5T_NATIVE_FLOAT : native_type_for(storage);
  at::Tensor out = at::empty(dims, at::TensorOptions().dtype(st == at::kHalf ? at::kFloat : storage));
  if (out.numel() > 0) {
    TORCH_CHECK(H5Dread(dataset.id(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data_ptr()) >= 0,
                dataset.where(), ": failed to read the data (file truncated or corrupt?)");
  }
  if (st == at::kBool) return out.ne(0);
  if (unsigned64 && out.numel() > 0) {
    TORCH_CHECK(out.min().item<int64_t>() >= 0, dataset.where(),
                ": holds uint64 values above 2^63 - 1, which no torch integer type holds (file corrupt?)");
  }
  if (as && *as != out.scalar_type() && (narrowing || unsigned64) && native_type_for(*as) >= 0) {
    if (narrowing && out.numel() > 0) {
      const int64_t lo = out.min().item<int64_t>(), hi = out.max().item<int64_t>();
      const bool fits = *as == at::kByte ? (lo >= 0 && hi <= 255)
                        : *as == at::kChar ? (lo >= -128 && hi <= 127)
                        : *as == at::kShort ? (lo >= INT16_MIN && hi <= INT16_MAX)
                        : *as == at::kInt ? (lo >= INT32_MIN && hi <= INT32_MAX)
                                          : true;
      TORCH_CHECK(fits, dataset.where(), ": values in [", lo, ", ", hi, "] do not fit the requested ", *as);
    }
    out = out.to(*as);
  }
  return out;
}

at::Tensor read_csr(const Node& group, int64_t rows, int64_t cols, std::optional<at::ScalarType> dtype) {
  TORCH_CHECK(rows >= 0 && cols >= 0 && rows < (int64_t(1) << 48) && cols < (int64_t(1) << 48), group.where(),
              ": implausible matrix shape [", rows, ", ", cols, "]");
  const Node indptr_node = open(group, "indptr", "int64 compressed pointers");
  const std::vector<int64_t> ptr_dims = shape(indptr_node);
  TORCH_CHECK(ptr_dims.size() == 1 && ptr_dims[0] == rows + 1, indptr_node.where(), ": expected ", rows + 1,
              " entries (one more than the ", rows, " compressed rows of the shape)");
  const at::Tensor indptr = read_array(indptr_node, at::kLong);
  const int64_t nnz = indptr[rows].item<int64_t>();
  const Node indices_node = open(group, "indices", "the indices of the stored entries");
  const Node data_node = open(group, "data", "the stored values");
  // The lengths are checked before the two big arrays are read.
  for (const Node* n : {&indices_node, &data_node}) {
    const std::vector<int64_t> d = shape(*n);
    TORCH_CHECK(d.size() == 1 && d[0] == nnz, n->where(), ": has shape [", c10::Join(", ", d), "], expected [", nnz,
                "] (the last indptr entry)");
  }
  return detail::checked_csr(indptr, read_array(indices_node, at::kLong), read_array(data_node, dtype), rows, cols,
                             group.where());
}

std::vector<std::string> read_strings(const Node& dataset) {
  TORCH_CHECK(H5Iget_type(dataset.id()) == H5I_DATASET, dataset.where(), ": expected a string dataset, found a group");
  return read_string_values(dataset.id(), false, dataset.where());
}

bool has_attr(const Node& node, const std::string& name) { return H5Aexists(node.id(), name.c_str()) > 0; }

std::vector<std::string> attr_strings(const Node& node, const std::string& name) {
  if (!has_attr(node, name)) return {};
  Handle attr(H5Aopen(node.id(), name.c_str(), H5P_DEFAULT));
  const std::string where = node.where() + "@" + name;
  TORCH_CHECK(attr.get() >= 0, where, ": cannot open attribute (file corrupt?)");
  Handle type(H5Aget_type(attr.get()));
  if (H5Tget_class(type.get()) != H5T_STRING) {
    Handle space(H5Aget_space(attr.get()));
    TORCH_CHECK(element_count(space.get()) == 0, where, ": expected a string attribute");
    return {};  // anndata writes an empty column-order as an empty float array
  }
  return read_string_values(attr.get(), true, where);
}

bool attr_bool(const Node& node, const std::string& name, bool fallback) {
  if (!has_attr(node, name)) return fallback;
  Handle attr(H5Aopen(node.id(), name.c_str(), H5P_DEFAULT));
  Handle type(H5Aget_type(attr.get()));
  const H5T_class_t cls = H5Tget_class(type.get());
  Handle space(H5Aget_space(attr.get()));
  if (attr.get() < 0 || (cls != H5T_INTEGER && cls != H5T_ENUM) || H5Tget_size(type.get()) > 8 ||
      element_count(space.get()) != 1) {
    return fallback;
  }
  uint8_t raw[8] = {0};  // read in the stored type: enums do not convert to integers
  if (H5Aread(attr.get(), type.get(), raw) < 0) return fallback;
  for (size_t i = 0; i < H5Tget_size(type.get()); ++i) {
    if (raw[i] != 0) return true;
  }
  return false;
}

std::optional<std::string> attr_string(const Node& node, const std::string& name) {
  if (!has_attr(node, name)) return std::nullopt;
  std::vector<std::string> values = attr_strings(node, name);
  if (values.empty()) return std::string();
  return values.front();
}

std::optional<std::vector<int64_t>> attr_ints(const Node& node, const std::string& name) {
  if (!has_attr(node, name)) return std::nullopt;
  const std::string where = node.where() + "@" + name;
  Handle attr(H5Aopen(node.id(), name.c_str(), H5P_DEFAULT));
  Handle type(H5Aget_type(attr.get()));
  Handle space(H5Aget_space(attr.get()));
  TORCH_CHECK(attr.get() >= 0 && H5Tget_class(type.get()) == H5T_INTEGER, where, ": expected an integer attribute");
  const int64_t n = element_count(space.get());
  TORCH_CHECK(n <= kMaxAttrElements, where, ": attribute declares ", n, " integers (corrupt?)");
  std::vector<int64_t> values(static_cast<size_t>(std::max<int64_t>(n, 0)));
  if (!values.empty()) {
    TORCH_CHECK(H5Aread(attr.get(), H5T_NATIVE_INT64, values.data()) >= 0, where, ": cannot read attribute");
  }
  return values;
}

std::map<std::string, std::string> string_attrs(const Node& node) {
  std::vector<std::string> names;
  auto cb = [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  hsize_t idx = 0;
  H5Aiterate2(node.id(), H5_INDEX_NAME, H5_ITER_INC, &idx, cb, &names);
  std::map<std::string, std::string> out;
  for (const auto& name : names) {
    Handle attr(H5Aopen(node.id(), name.c_str(), H5P_DEFAULT));
    Handle type(H5Aget_type(attr.get()));
    if (attr.get() < 0 || H5Tget_class(type.get()) != H5T_STRING) continue;
    std::string joined;
    for (const auto& v : read_string_values(attr.get(), true, node.where() + "@" + name)) {
      joined += (joined.empty() ? "" : ",") + v;
    }
    out[name] = joined;
  }
  return out;
}

Node create_group(const Node& loc, const std::string& name) {
  const std::string path = loc.child_path(name);
  const hid_t id = H5Gcreate2(loc.id(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  TORCH_CHECK(id >= 0, loc.file, ": cannot create group '", path, "'");
  return Node{Handle(id), loc.file, path};
}

void write_array(const Node& loc, const std::string& name, const at::Tensor& values) {
  const std::string path = loc.child_path(name);
  TORCH_CHECK(values.device().is_cpu() && values.layout() == at::kStrided, loc.file, ": '", path,
              "': expected a dense CPU tensor to write");
  const at::Tensor v = values.scalar_type() == at::kBool ? values.to(at::kChar).contiguous() : values.contiguous();
  const hid_t mem = native_type_for(v.scalar_type());
  TORCH_CHECK(mem >= 0, loc.file, ": '", path, "': unsupported dtype ", values.scalar_type());
  std::vector<hsize_t> dims(v.sizes().begin(), v.sizes().end());
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  Handle file_type;
  hid_t type = mem;
  if (values.scalar_type() == at::kBool) {  // the enum h5py/anndata use for numpy bool
    file_type = Handle(H5Tenum_create(H5T_NATIVE_INT8));
    int8_t f = 0, t = 1;
    H5Tenum_insert(file_type.get(), "FALSE", &f);
    H5Tenum_insert(file_type.get(), "TRUE", &t);
    type = file_type.get();
  }
  Handle ds = checked(H5Dcreate2(loc.id(), name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                      loc.file + ": cannot create dataset '" + path + "'");
  if (v.numel() > 0) {
    TORCH_CHECK(H5Dwrite(ds.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data_ptr()) >= 0, loc.file,
                ": cannot write dataset '", path, "'");
  }
}

void write_strings(const Node& loc, const std::string& name, const std::vector<std::string>& values,
                   bool variable_length) {
  const std::string path = loc.child_path(name);
  hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr));
  size_t width = 1;
  for (const auto& s : values) width = std::max(width, s.size());
  Handle type = string_type(variable_length, width);
  Handle ds = checked(H5Dcreate2(loc.id(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT,
                                 H5P_DEFAULT),
                      loc.file + ": cannot create dataset '" + path + "'");
  if (n == 0) return;
  herr_t rc;
  if (variable_length) {
    std::vector<const char*> ptrs;
    ptrs.reserve(values.size());
    for (const auto& s : values) ptrs.push_back(s.c_str());
    rc = H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data());
  } else {
    std::vector<char> buf(width * values.size(), '\0');
    for (size_t i = 0; i < values.size(); ++i) std::memcpy(buf.data() + i * width, values[i].data(), values[i].size());
    rc = H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
  }
  TORCH_CHECK(rc >= 0, loc.file, ": cannot write dataset '", path, "'");
}

void set_attr(const Node& node, const std::string& name, const std::string& value) {
  Handle space(H5Screate(H5S_SCALAR));
  Handle type = string_type(true, 0);
  const char* p = value.c_str();
  write_attr_raw(node, name, type.get(), space.get(), &p);
}

void set_attr(const Node& node, const std::string& name, const std::vector<std::string>& values) {
  hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr));
  Handle type = string_type(true, 0);
  std::vector<const char*> ptrs;
  for (const auto& s : values) ptrs.push_back(s.c_str());
  write_attr_raw(node, name, type.get(), space.get(), ptrs.empty() ? nullptr : ptrs.data());
}

void set_attr(const Node& node, const std::string& name, const std::vector<int64_t>& values) {
  hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr));
  write_attr_raw(node, name, H5T_NATIVE_INT64, space.get(), values.empty() ? nullptr : values.data());
}

void set_attr_bool(const Node& node, const std::string& name, bool value) {
  Handle space(H5Screate(H5S_SCALAR));
  Handle type(H5Tenum_create(H5T_NATIVE_INT8));
  int8_t f = 0, t = 1;
  H5Tenum_insert(type.get(), "FALSE", &f);
  H5Tenum_insert(type.get(), "TRUE", &t);
  const int8_t v = value ? 1 : 0;
  write_attr_raw(node, name, type.get(), space.get(), &v);
}

}  // namespace stx::data::h5
