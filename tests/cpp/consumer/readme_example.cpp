// The README's C++ example, built against the installed package.
#include <stx/ops/spot_pool.h>
#include <torch/torch.h>

#include <iostream>

int main() {
  auto dense = torch::randn({1, 64, 512, 512}, torch::requires_grad());
  auto centers = torch::tensor({0.0, 100.0, 120.0}).view({1, 3});
  auto spots = std::get<0>(stx::ops::spot_pool(dense, centers, torch::full({1}, 27.5)));
  spots.sum().backward();              // C++ autograd, no Python involved
  std::cout << dense.grad().sum() << "\n";
  return spots.size(0) == 1 && spots.size(1) == 64 ? 0 : 1;
}
