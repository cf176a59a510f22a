#include "apps/run_guarded.h"

#include <iostream>
#include <string>

#include "engine/runtime/errors.h"

namespace loom::apps {

int run_guarded(CLI::App& app, int argc, char** argv, const std::function<void()>& body) {
  const std::string program = app.get_name();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << program << ": " << e.what() << " (see --help)\n";
    return 2;
  }
  try {
    body();
    return 0;
  } catch (const UsageError& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace loom::apps
