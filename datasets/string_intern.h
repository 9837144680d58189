#pragma once
// Internal: string columns stored as indices into a list of distinct values (genes, cell ids,
// compartments), in order of first appearance.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace stx::data::detail {

// Index of `name` in `names`, appending it on first sight.
// Looks up before inserting: emplace would build (allocate) a node for every call, and almost every
// call finds a name already seen.
inline int64_t intern(const std::string& name, std::vector<std::string>& names,
                      std::unordered_map<std::string, int64_t>& ids) {
  if (const auto it = ids.find(name); it != ids.end()) return it->second;
  const auto id = static_cast<int64_t>(names.size());
  ids.emplace(name, id);
  names.push_back(name);
  return id;
}

}  // namespace stx::data::detail
