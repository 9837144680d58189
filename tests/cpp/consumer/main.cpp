// Calls stx operators only through the dispatcher (no libstx symbol referenced), so this also
// proves the link keeps libstx and its registrations, and that C++ autograd reaches the op.
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/torch.h>

#include <iostream>

int main() {
  auto& dispatcher = c10::Dispatcher::singleton();
  auto version = dispatcher.findSchemaOrThrow("stx::_version", "").typed<std::string()>().call();
  std::cout << "stx " << version << " found through the dispatcher\n";

  using SpotPool = std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                                        c10::string_view, c10::string_view, double);
  auto spot_pool = dispatcher.findSchemaOrThrow("stx::spot_pool", "").typed<SpotPool>();
  auto dense = torch::ones({1, 2, 16, 16}, torch::requires_grad());
  auto centers = torch::tensor({0.0f, 8.0f, 8.0f}).view({1, 3});
  auto [out, coverage] = spot_pool.call(dense, centers, torch::full({1}, 2.0f), "disk", "sum", 0.5);
  out.sum().backward();
  // 13 pixel centres lie within 2 px of (8, 8); each channel sums 13 ones.
  const bool ok = coverage.item<float>() == 13.0f && out[0][0].item<float>() == 13.0f &&
                  dense.grad().sum().item<float>() == 26.0f;
  std::cout << "spot_pool through the dispatcher: sum " << out[0][0].item<float>() << ", coverage "
            << coverage.item<float>() << ", grad sum " << dense.grad().sum().item<float>() << "\n";
  return ok ? 0 : 1;
}
