#include "registry/snapshot.h"

#include <algorithm>

namespace promptops::registry {

const VersionView* PromptView::ByNumber(std::int64_t number) const {
  if (number < 1 || number > static_cast<std::int64_t>(versions.size())) return nullptr;
  return versions[static_cast<std::size_t>(number - 1)].get();
}

const VersionView* PromptView::Head(std::string_view branch) const {
  auto it = branches.find(std::string(branch));
  if (it == branches.end()) return nullptr;
  const VersionView* v = ByNumber(it->second.head);
  return v && v->branch == branch ? v : nullptr;
}

const VersionView* PromptView::ByLabel(std::string_view label) const {
  if (label == "latest") return Latest();
  auto it = labels.find(std::string(label));
  if (it == labels.end()) return nullptr;
  return ByNumber(it->second.version);
}

std::vector<std::string> PromptView::LabelsOf(std::int64_t number) const {
  std::vector<std::string> out;
  for (const auto& [name, l] : labels) {
    if (l.version == number) out.push_back(name);
  }
  const VersionView* latest = Latest();
  if (latest && latest->number == number) out.push_back("latest");
  std::sort(out.begin(), out.end());
  return out;
}

const PromptView* Snapshot::Find(std::int64_t project_id, std::string_view name) const {
  auto p = projects.find(project_id);
  if (p == projects.end()) return nullptr;
  auto it = p->second.find(name);
  return it == p->second.end() ? nullptr : it->second.get();
}

}  // namespace promptops::registry
