// Who is calling: the authenticated principal every service method receives. Roles are ordered:
// viewer < editor < admin (an admin may do everything an editor may, and so on).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace promptops {

enum class Role { kViewer = 0, kEditor = 1, kAdmin = 2 };

std::string_view RoleName(Role r);
std::optional<Role> ParseRole(std::string_view s);

struct Actor {
  std::int64_t project_id = 0;
  std::string id;  // the API key's public id (never its secret), or "system"
  Role role = Role::kViewer;

  // PermissionDenied unless role >= needed; `what` names the action ("move protected labels").
  Status Require(Role needed, std::string_view what) const;
  static Actor System(std::int64_t project_id) { return {project_id, "system", Role::kAdmin}; }
};

}  // namespace promptops
