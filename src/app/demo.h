// Demo data for `serve --demo` (and so `make run`): example prompts with several versions,
// labels, a branch and a composed partial, in English and Korean. Loading is idempotent: pushes
// of identical content are no-ops, so restarting with --demo changes nothing.
#pragma once

#include "core/actor.h"
#include "core/error.h"
#include "registry/registry.h"

namespace promptops::app {

Status LoadDemoData(registry::Registry& registry, const Actor& actor);

}  // namespace promptops::app
