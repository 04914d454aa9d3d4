// The man-style part of `ringpost ... --help`: a paragraph and an example for every command,
// kept here so main.cc stays a list of commands. Main thread, before parsing.
#pragma once

namespace CLI {
class App;
}

namespace ringpost::engine {

// Sets the man-style footer (what it does in detail, then "Example:") of every known subcommand of `app`
// (found by name; one that is missing is skipped, so a command can move without breaking help).
void describe_commands(CLI::App& app);

}  // namespace ringpost::engine
