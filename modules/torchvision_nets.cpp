// The name -> architecture table of the native torchvision networks, and weight loading.
#include <stx/modules/torchvision_nets.h>

#include <algorithm>

#include <stx/modules/weights_file.h>

namespace stx::modules {

const std::vector<std::string>& torchvision_net_names() {
  static const std::vector<std::string> names{"resnet18", "resnet50", "densenet121", "mobilenet_v2",
                                              "efficientnet_b0"};
  return names;
}

bool is_torchvision_net(const std::string& name) {
  const auto& names = torchvision_net_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::shared_ptr<TorchvisionNetImpl> make_torchvision_net(const std::string& arch, const std::string& weights) {
  std::shared_ptr<TorchvisionNetImpl> net;
  if (arch == "resnet18") net = make_resnet(18);
  if (arch == "resnet50") net = make_resnet(50);
  if (arch == "densenet121") net = make_densenet121();
  if (arch == "mobilenet_v2") net = make_mobilenet_v2();
  if (arch == "efficientnet_b0") net = make_efficientnet_b0();
  TORCH_CHECK(net, "make_torchvision_net: unknown architecture '", arch, "'");
  if (!weights.empty()) load_weights_file(*net, weights, net->classifier_prefix(), arch);
  return net;
}

}  // namespace stx::modules
