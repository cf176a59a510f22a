// A saved model (engine/model/model_file.h, architecture.h) on any bytes, as predict and report read one:
//   - from a file already read: the run description, and the architecture's JSON checked (every layer made and
//     sized, nothing allocated) and compared with the seed run's model;
//   - load_weights on a path: the model-file checks, the architecture against that model, every tensor.
// Models are not built from the fuzzed architecture: one within loom's limits may rightly take gigabytes.
#include <cstddef>
#include <cstdint>
#include <optional>

#include "engine/io/safetensors.h"
#include "engine/model/architecture.h"
#include "engine/model/model_file.h"
#include "fuzz/fuzz_support.h"

namespace {

using namespace loom;

struct Load {
  std::unique_ptr<Sequential> model = fuzz::make_model();
  std::string architecture = architecture_json(*model);
  fuzz::ScratchFile file{".safetensors"};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Load load;
  const std::string bytes = fuzz::bytes_of(data, size);
  const std::optional<SafetensorsFile> parsed = fuzz::parsed_safetensors(bytes);
  if (!parsed) return 0;
  const SafetensorsFile& file = *parsed;
  fuzz::expect_loom_errors([&] { read_run_description(file); });
  fuzz::expect_loom_errors([&] {
    const std::string& architecture = file.metadata("architecture");
    check_architecture(architecture);
    for (bool with_optimizer : {false, true}) {
      architecture_difference(architecture, load.architecture, with_optimizer);
      fuzz::check(architecture_difference(architecture, architecture, with_optimizer).empty(),
                  "an architecture differs from itself");
    }
  });
  fuzz::expect_loom_errors([&] { load_weights(*load.model, load.file.write(bytes)); });
  return 0;
}
