// The promptops executable: server and CLI in one binary. See app/cli_main.h.
#include "app/run.h"

int main(int argc, char** argv) { return promptops::app::Run(argc, argv); }
