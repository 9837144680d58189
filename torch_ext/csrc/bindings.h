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

// Runs fn and turns a c10::Error (a TORCH_CHECK on the caller's input) into a Python ValueError
// carrying the same message, without the C++ backtrace.
template <typename Fn>
auto as_value_error(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const c10::Error& e) {
    throw pybind11::value_error(e.what_without_backtrace());
  }
}

}  // namespace stx::python

#define STX_PYTHON_BINDING(name)                                                     \
  static void stx_bind_##name(pybind11::module_& m);                                 \
  static const ::stx::python::BindingRegistrar stx_binding_registrar_##name(#name,   \
                                                                            &stx_bind_##name); \
  static void stx_bind_##name(pybind11::module_& m)
