// What the programs that read a --model file say when it is a checkpoint whose weights are not those its run ended
// with (early stopping restored an earlier epoch's, which --save wrote).
#pragma once

#include <string>

#include "engine/io/safetensors.h"

namespace loom::apps {

// "'<path>' is a checkpoint: it holds the weights of epoch 7, the last trained; early stopping's best was epoch 4
// (...)", or empty when the file's weights are the run's own.
std::string checkpoint_weights_note(const SafetensorsFile& file, const std::string& path);

}  // namespace loom::apps
