#pragma once
// Weight files the user gives (e.g. ImageNet weights downloaded beforehand): a state_dict written by
// Python's torch.save (zip format). Read with weights-only semantics: a small unpickler that knows
// only dicts, OrderedDict, tensors and plain values; any other global is refused, never executed.
// (torch::pickle_load cannot be used: it drops OrderedDict, the type every state_dict has.)
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <string>
#include <utility>
#include <vector>

#include <stx/macros.h>

namespace stx::modules {

// The file's (name, tensor) pairs in file order. Errors name the file.
STX_API std::vector<std::pair<std::string, at::Tensor>> read_state_dict_file(const std::string& path);

// Copies the file's tensors into `module`'s parameters and buffers by name. Keys starting with
// `skip_prefix` (a classifier the module does not have) are ignored; any other unknown key, a
// missing key or a shape mismatch is an error naming the file and the first bad key.
STX_API void load_weights_file(torch::nn::Module& module, const std::string& path, const std::string& skip_prefix = "",
                               const std::string& who = "weights");

}  // namespace stx::modules
