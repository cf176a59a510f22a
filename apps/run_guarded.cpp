#include "apps/run_guarded.h"

#include <iostream>
#include <string>

#include "apps/standard_output.h"
#include "engine/io/file_text.h"
#include "engine/runtime/errors.h"

namespace loom::apps {
namespace {

// One line on stderr, whatever the message holds: control bytes from a path the user typed (or a file's contents)
// are spelled out, never sent raw to the terminal.
int report(const std::string& program, const std::string& message, int code, const char* suffix = "") {
  std::cerr << program << ": " << one_line(message) << suffix << "\n";
  return code;
}

}  // namespace

int run_guarded(CLI::App& app, int argc, char** argv, const std::function<void()>& body) {
  guard_standard_streams();
  const std::string program = app.get_name();
  try {
    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
      std::cout << app.help();
      check_standard_output();
      return 0;
    } catch (const CLI::ParseError& e) {
      return report(program, e.what(), 2, " (see --help)");
    } catch (const UsageError& e) {  // a flag's value, refused while parsing (apps/number_flags.h)
      return report(program, e.what(), 2);
    }
    body();
    check_standard_output();
    return 0;
  } catch (const UsageError& e) {
    return report(program, e.what(), 2);
  } catch (const std::exception& e) {
    return report(program, e.what(), 1);
  }
}

}  // namespace loom::apps
