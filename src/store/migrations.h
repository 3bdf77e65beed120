// Numbered schema migrations. Applied in order, each in its own transaction, on start; the applied
// numbers are recorded in schema_migrations. Never edit a released migration: add a new one.
#pragma once

#include <span>
#include <string_view>

namespace promptops::store {

struct Migration {
  int number;
  std::string_view name;
  std::string_view sql;
};

std::span<const Migration> SqliteMigrations();

}  // namespace promptops::store
