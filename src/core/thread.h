#pragma once
// Thread naming, so that top -H, perf and gdb show which part of promptops a thread belongs to.

#include <string_view>

namespace promptops {

// Names the calling thread (Linux keeps the first 15 bytes). Best effort: errors are ignored.
void SetThreadName(std::string_view name);

}  // namespace promptops
