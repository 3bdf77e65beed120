#include "app/run.h"

#include <cstdio>

namespace promptops::app {
int Run(int argc, char** argv) {
  std::fprintf(stderr, "promptops: not implemented yet\n");
  return 1;
}
}  // namespace promptops::app
