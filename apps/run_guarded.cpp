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

// CLI11 words a single-valued option given twice "--epochs: At Most 1 required but received 2": said plainly here,
// before parsing. Flags (no value) may repeat harmlessly; options that take several values or repeat by design
// (--run, --name) are left to CLI11.
void refuse_repeated_options(const CLI::App& app, int argc, char** argv) {
  for (const CLI::Option* option : app.get_options()) {
    if (option->get_items_expected_max() != 1 || option->get_type_size_max() == 0 || option->get_positional() ||
        option->get_multi_option_policy() != CLI::MultiOptionPolicy::Throw)
      continue;
    int given = 0;
    for (int i = 1; i < argc && std::string(argv[i]) != "--"; ++i) {
      const std::string argument = argv[i];
      for (const std::string& name : option->get_lnames())
        if (argument == "--" + name || argument.rfind("--" + name + "=", 0) == 0) ++given;
      for (const std::string& name : option->get_snames())
        if (argument.rfind("-" + name, 0) == 0) ++given;
    }
    if (given > 1) throw UsageError(option->get_name() + " given " + times_text(given) + " (give it once)");
  }
}

}  // namespace

int run_guarded(CLI::App& app, int argc, char** argv, const std::function<void()>& body) {
  guard_standard_streams();
  const std::string program = app.get_name();
  try {
    try {
      refuse_repeated_options(app, argc, argv);
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
