// History files (engine/training/history_file.h) on any bytes: the first byte picks the layout ('c': CSV through
// read_history on a .csv file; anything else: JSON through history_from_json, as checkpoints and read_history of a
// .json file read it), the rest is the file. A history that was read must be written and read back unchanged.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "engine/training/history_file.h"
#include "fuzz/fuzz_support.h"

namespace {

using namespace loom;

bool same(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

bool same(const EpochResult& a, const EpochResult& b) {
  return same(a.loss, b.loss) && same(a.accuracy, b.accuracy) && a.validated == b.validated &&
         (!a.validated || (same(a.val_loss, b.val_loss) && same(a.val_accuracy, b.val_accuracy))) &&
         same(a.learning_rate, b.learning_rate) && same(a.seconds, b.seconds);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fuzz::ScratchFile csv_input{".csv"}, csv_output{".csv"}, json_output{".json"};
  if (size == 0) return 0;
  const bool csv = data[0] == 'c';
  const std::string text = fuzz::bytes_of(data + 1, size - 1);
  fuzz::expect_loom_errors([&] {
    const History history = csv ? read_history(csv_input.write(text)) : history_from_json(text, "fuzz input");
    try {
      const fuzz::ScratchFile& output = csv ? csv_output : json_output;
      write_history(history, output.path());
      const History again = read_history(output.path());
      fuzz::check(again.size() == history.size(), "a history changed its length on a write and read back");
      for (size_t i = 0; i < history.size(); ++i)
        fuzz::check(same(history[i], again[i]), "epoch " + std::to_string(i) + " changed on a write and read back");
    } catch (const Error& e) {
      fuzz::check(false, std::string("a history that was read cannot be written and read back: ") + e.what());
    }
  });
  return 0;
}
