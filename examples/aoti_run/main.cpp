// Runs an AOTInductor package without Python:
//   stx_aoti_run <model.pt2> <inputs.pt> <outputs.pt>
// <inputs.pt> is a list of tensors saved from Python with torch.save; the outputs are written with
// torch::pickle_save as a tuple, which Python reads with torch.load. The package may call torch.ops.stx
// operators: they are registered by libstx, linked through stx::stx.
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/ivalue.h>
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

std::vector<char> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open '" + path + "'");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<at::Tensor> load_tensors(const std::string& path) {
  const auto value = torch::jit::pickle_load(read_file(path));
  if (value.isTensor()) return {value.toTensor()};
  if (value.isTensorList()) return value.toTensorVector();
  if (value.isList() || value.isTuple()) {
    std::vector<at::Tensor> out;
    for (const auto& item : value.isList() ? value.toListRef().vec() : value.toTupleRef().elements().vec()) {
      if (!item.isTensor()) throw std::runtime_error("'" + path + "' must hold tensors only");
      out.push_back(item.toTensor());
    }
    return out;
  }
  throw std::runtime_error("'" + path + "' must hold a tensor or a list of tensors, got " + value.tagKind());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: " << argv[0] << " <model.pt2> <inputs.pt> <outputs.pt>\n";
    return 2;
  }
  try {
    if (!c10::Dispatcher::singleton().findSchema({"stx::spot_pool", ""})) {
      throw std::runtime_error("the stx operators are not registered (libstx is not linked)");
    }
    torch::inductor::AOTIModelPackageLoader loader(argv[1]);
    const auto outputs = loader.run(load_tensors(argv[2]));
    // A tuple of tensors: torch.load reads it with weights_only=True (a typed tensor list would not).
    std::vector<c10::IValue> items(outputs.begin(), outputs.end());
    const auto bytes = torch::jit::pickle_save(c10::IValue(c10::ivalue::Tuple::create(std::move(items))));
    std::ofstream out(argv[3], std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error(std::string("cannot write '") + argv[3] + "'");
    std::cout << "ran " << argv[1] << ": " << outputs.size() << " output(s)\n";
  } catch (const std::exception& e) {
    std::cerr << "stx_aoti_run: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
