// quantface: the command-line client of QuantFace Service.
#include <CLI/CLI.hpp>

#include "client/cli_context.h"
#include "client/commands/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"QuantFace Service command-line client", "quantface"};
  app.require_subcommand(1);
  qf::cli::CliContext context;
  app.add_option("--server", context.server, "Server address host:port")
      ->envname("QUANTFACE_SERVER")
      ->capture_default_str();
  app.add_option("--timeout", context.timeout_seconds, "Per-call deadline in seconds (0 = none)")
      ->capture_default_str();
  app.add_flag("--json", context.json, "Print results as JSON");
  app.set_version_flag("--version", QF_VERSION);

  int exit_status = qf::cli::kExitOk;
  qf::cli::AddHealthCommands(app, context, exit_status);
  qf::cli::AddJobCommands(app, context, exit_status);
  qf::cli::AddModelCommands(app, context, exit_status);
  qf::cli::AddVerificationCommands(app, context, exit_status);
  qf::cli::AddGalleryCommands(app, context, exit_status);
  qf::cli::AddBenchCommands(app, context, exit_status);
  qf::cli::AddQuantizeCommands(app, context, exit_status);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? qf::cli::kExitOk : qf::cli::kExitUsage;
  }
  return exit_status;
}
