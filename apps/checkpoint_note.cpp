#include "apps/checkpoint_note.h"

#include "engine/io/file_text.h"
#include "engine/training/checkpoint.h"

namespace loom::apps {

std::string checkpoint_weights_note(const SafetensorsFile& file, const std::string& path) {
  if (file.metadata("content") != "checkpoint") return "";
  const CheckpointEpochs epochs = checkpoint_epochs(file);
  if (epochs.best <= 0 || epochs.best == epochs.last) return "";
  return "'" + one_line(path) + "' is a checkpoint: it holds the weights of epoch " + std::to_string(epochs.last) +
         ", the last trained; early stopping's best was epoch " + std::to_string(epochs.best) +
         " (the weights the run ends with and --save writes)";
}

}  // namespace loom::apps
