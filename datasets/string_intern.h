#pragma once
// Internal: string columns stored as indices into a list of distinct values (genes, cell ids,
// compartments), in order of first appearance.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace stx::data::detail {

// Index of `name` in `names`, appending it on first sight.
inline int64_t intern(const std::string& name, std::vector<std::string>& names,
                      std::unordered_map<std::string, int64_t>& ids) {
  const auto [it, added] = ids.emplace(name, static_cast<int64_t>(names.size()));
  if (added) names.push_back(name);
  return it->second;
}

}  // namespace stx::data::detail
