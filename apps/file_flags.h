// Checks of flags that name files, shared by the apps: made before anything is read, trained or printed, so a wrong
// path is the only line the user sees (loom::UsageError: exit 2).
#pragma once

#include <string>

namespace loom::apps {

// `path` (named by `flag`) must exist: "--load: no file 'm.safetensors'".
void require_existing_file(const std::string& flag, const std::string& path);

// Whether two paths name the same file, also when written differently ("./m.safetensors" and "m.safetensors").
bool same_file(const std::string& a, const std::string& b);

}  // namespace loom::apps
