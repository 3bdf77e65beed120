// Numbered schema migrations. Applied in order, each in its own transaction, on start; the applied
// numbers are recorded in schema_migrations. Never edit a released migration: add a new one.
#pragma once

#include <span>
#include <string_view>

#include "core/error.h"

namespace promptops::store {

namespace sqlite {
class Connection;
}

struct Migration {
  int number;
  std::string_view name;
  std::string_view sql;
  // Runs after `sql`, in the same transaction, when data must be rewritten in C++ (null: none).
  Status (*then)(sqlite::Connection&) = nullptr;
};

std::span<const Migration> SqliteMigrations();

}  // namespace promptops::store
