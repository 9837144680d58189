// stx._C: Python bindings for the parts of stx that are not operators. Operators are reached
// through torch.ops.stx; this module never registers any.
#include <torch/extension.h>

#include <stx/stx.h>

#include "torch_ext/csrc/bindings.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "stx native bindings (environments, readers); operators live in torch.ops.stx";
  m.def("library_version", &stx::library_version, "Version of the loaded libstx");
  m.def("cuda_version", &stx::cuda_version, "CUDA version libstx was built with, or -1");
  stx::python::bind_all(m);
}
