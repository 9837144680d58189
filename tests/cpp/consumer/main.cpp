// Calls stx operators only through the dispatcher (no libstx symbol referenced), so this also
// proves the link keeps libstx and its registrations.
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/torch.h>

#include <iostream>

int main() {
  auto version = c10::Dispatcher::singleton()
                     .findSchemaOrThrow("stx::_version", "")
                     .typed<std::string()>()
                     .call();
  std::cout << "stx " << version << " found through the dispatcher\n";
  if (version.empty()) return 1;
  return 0;
}
