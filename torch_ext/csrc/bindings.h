#pragma once
// Binding files register themselves with STX_PYTHON_BINDING(name) { ... } so that adding a
// part (envs, data, ...) needs no edit of a shared list.
#include <torch/extension.h>

namespace stx::python {

using BindFn = void (*)(pybind11::module_&);

struct BindingRegistrar {
  BindingRegistrar(const char* name, BindFn fn);
};

// Calls every registered binding function, in name order (deterministic across builds).
void bind_all(pybind11::module_& m);

}  // namespace stx::python

#define STX_PYTHON_BINDING(name)                                                     \
  static void stx_bind_##name(pybind11::module_& m);                                 \
  static const ::stx::python::BindingRegistrar stx_binding_registrar_##name(#name,   \
                                                                            &stx_bind_##name); \
  static void stx_bind_##name(pybind11::module_& m)
