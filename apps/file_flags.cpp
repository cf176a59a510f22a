#include "apps/file_flags.h"

#include <filesystem>
#include <system_error>

#include "engine/io/file_text.h"
#include "engine/runtime/errors.h"

namespace loom::apps {

CLI::Option* refusing_empty_paths(CLI::Option* option) {
  const std::string flag = option->get_name();
  return option->each([flag](const std::string& value) {
    if (value.empty()) throw UsageError(flag + " is an empty path");
  });
}

CLI::Option* add_path_option(CLI::App& app, const std::string& name, std::string& target, const std::string& help) {
  return refusing_empty_paths(app.add_option(name, target, help));
}

void require_existing_file(const std::string& flag, const std::string& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) throw UsageError(flag + ": no file '" + one_line(path) + "'");
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code error_a, error_b;
  const auto canonical_a = std::filesystem::weakly_canonical(a, error_a);
  const auto canonical_b = std::filesystem::weakly_canonical(b, error_b);
  if (error_a || error_b) return a == b;
  return canonical_a == canonical_b;
}

}  // namespace loom::apps
