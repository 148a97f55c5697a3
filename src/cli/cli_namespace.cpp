// Placeholder so the CLI library is never empty.
namespace instar::cli {}
