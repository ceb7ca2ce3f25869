// Registration of the `quantface` subcommands, one function per area. Each
// subcommand's callback stores its exit status in `exit_status`.
#ifndef QUANTFACE_CLIENT_COMMANDS_COMMANDS_H_
#define QUANTFACE_CLIENT_COMMANDS_COMMANDS_H_

#include <CLI/CLI.hpp>

#include "client/cli_context.h"

namespace qf::cli {

void AddHealthCommands(CLI::App& app, CliContext& context, int& exit_status);
void AddJobCommands(CLI::App& app, CliContext& context, int& exit_status);
void AddModelCommands(CLI::App& app, CliContext& context, int& exit_status);
void AddVerificationCommands(CLI::App& app, CliContext& context, int& exit_status);
void AddGalleryCommands(CLI::App& app, CliContext& context, int& exit_status);
void AddBenchCommands(CLI::App& app, CliContext& context, int& exit_status);
// Offline, no server: `quantize` and `synth-export`.
void AddQuantizeCommands(CLI::App& app, CliContext& context, int& exit_status);
// `bench identify` (gRPC), added under the `bench` subcommand.
void AddBenchIdentifyCommand(CLI::App& bench, CliContext& context, int& exit_status);

}  // namespace qf::cli

#endif  // QUANTFACE_CLIENT_COMMANDS_COMMANDS_H_
