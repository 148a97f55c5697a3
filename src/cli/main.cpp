// instar: qemu-img's command line, with every image byte parsed inside a
// KVM micro-VM. main() only dispatches to the subcommands.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "cli/convert.h"
#include "cli/copy.h"
#include "cli/create.h"
#include "cli/info.h"
#include "host/error.h"

namespace {

constexpr const char* kVersion = "instar version 0.1.0";

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"instar: a sandboxed drop-in for qemu-img", "instar"};
    app.set_version_flag("--version", kVersion);
    app.require_subcommand(1);
    instar::cli::add_convert_command(app);
    instar::cli::add_copy_command(app);
    instar::cli::add_create_command(app);
    instar::cli::add_info_command(app);

    // qemu-img's wording for a command it does not have.
    if (argc > 1 && argv[1][0] != '-') {
        bool known = false;
        for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
            known = known || sub->get_name() == argv[1];
        if (!known) {
            std::cerr << "instar: Command not found: " << argv[1] << "\n";
            return 1;
        }
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << "instar: " << e.what() << "\n";
        return 1;
    } catch (const instar::Error& e) {
        std::string sub = app.get_subcommands().empty() ? "" : app.get_subcommands().front()->get_name() + ": ";
        std::cerr << "instar: " << sub << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "instar: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
