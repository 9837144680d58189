#include "torch_ext/csrc/bindings.h"

#include <map>
#include <string>

namespace stx::python {
namespace {
std::map<std::string, BindFn>& registry() {
  static std::map<std::string, BindFn> fns;
  return fns;
}
}  // namespace

BindingRegistrar::BindingRegistrar(const char* name, BindFn fn) { registry().emplace(name, fn); }

void bind_all(pybind11::module_& m) {
  for (const auto& [name, fn] : registry()) fn(m);
}

}  // namespace stx::python
