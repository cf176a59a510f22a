// Checks of flags that name files, shared by the apps: made before anything is read, trained or printed, so a wrong
// path is the only line the user sees (loom::UsageError: exit 2).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace loom::apps {

// Makes `option`, whose values name files or folders, refuse an empty value while parsing (loom::UsageError
// "--save is an empty path"), rather than read it as "not given": `--load "$UNSET"` must not train from scratch.
CLI::Option* refusing_empty_paths(CLI::Option* option);
// app.add_option(name, target, help), refusing an empty path.
CLI::Option* add_path_option(CLI::App& app, const std::string& name, std::string& target, const std::string& help);

// `path` (named by `flag`) must exist: "--load: no file 'm.safetensors'" (UsageError) when nothing has that name;
// a path that cannot be looked up says why, "--load: cannot read 'm': Too many levels of symbolic links" (Error).
void require_existing_file(const std::string& flag, const std::string& path);

// Whether two paths name the same file, also when written differently ("./m.safetensors", "m.safetensors", an
// absolute path, a path through a symlinked folder) and when neither exists yet: the same existing file (symlinks and
// hard links included), or the same name in the same folder (what writing one would replace).
bool same_file(const std::string& a, const std::string& b);

}  // namespace loom::apps
