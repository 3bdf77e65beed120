#include "core/actor.h"

namespace promptops {

std::string_view RoleName(Role r) {
  switch (r) {
    case Role::kAdmin:
      return "admin";
    case Role::kEditor:
      return "editor";
    default:
      return "viewer";
  }
}

std::optional<Role> ParseRole(std::string_view s) {
  if (s == "admin") return Role::kAdmin;
  if (s == "editor") return Role::kEditor;
  if (s == "viewer") return Role::kViewer;
  return std::nullopt;
}

Status Actor::Require(Role needed, std::string_view what) const {
  if (static_cast<int>(role) >= static_cast<int>(needed)) return OkStatus();
  return Error::PermissionDenied("role '" + std::string(RoleName(role)) + "' may not " +
                                 std::string(what) + " (needs '" + std::string(RoleName(needed)) +
                                 "')");
}

}  // namespace promptops
