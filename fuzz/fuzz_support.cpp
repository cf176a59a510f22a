#include "fuzz/fuzz_support.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "engine/layers/dense.h"
#include "engine/layers/flatten.h"
#include "engine/losses/sparse_categorical_crossentropy.h"
#include "engine/optimizers/optimizer.h"

namespace loom::fuzz {

void check(bool condition, const std::string& what) {
  if (condition) return;
  std::fprintf(stderr, "loom fuzz finding: %s\n", what.c_str());
  std::abort();
}

std::string bytes_of(const uint8_t* data, size_t size) {
  return size ? std::string(reinterpret_cast<const char*>(data), size) : std::string();
}

std::optional<loom::SafetensorsFile> parsed_safetensors(const std::string& bytes) {
  try {
    return loom::SafetensorsFile::parse(bytes, "fuzz input");
  } catch (const loom::Error&) {
    return std::nullopt;
  }
}

ScratchFile::ScratchFile(const std::string& extension) {
  const char* tmp = std::getenv("TMPDIR");
  std::string folder = std::string(tmp && *tmp ? tmp : "/tmp") + "/loom_fuzz_XXXXXX";
  check(mkdtemp(folder.data()) != nullptr, "cannot make a scratch folder " + folder);
  folder_ = folder;
  path_ = folder_ + "/input" + extension;
}

ScratchFile::~ScratchFile() {
  std::remove(path_.c_str());
  rmdir(folder_.c_str());
}

const std::string& ScratchFile::write(const std::string& bytes) const {
  std::ofstream out(path_, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  check(out.good(), "cannot write the scratch file " + path_);
  return path_;
}

std::unique_ptr<Sequential> make_model() {
  auto model = std::make_unique<Sequential>();
  model->add<Flatten>();
  model->add<Dense>(4, Activation::ReLU);
  model->add<Dense>(10);
  model->build({4, 4}, Device::CPU, 1);
  model->compile(std::make_unique<Adam>(), SparseCategoricalCrossentropy{true});
  return model;
}

namespace {

EarlyStopping::Options early_stopping_options() {
  EarlyStopping::Options options;
  options.monitor = "val_loss";
  options.patience = 5;
  options.restore_best_weights = true;
  return options;
}

ReduceLROnPlateau::Options plateau_options() {
  ReduceLROnPlateau::Options options;
  options.monitor = "val_loss";
  options.patience = 1;
  options.factor = 0.5;
  return options;
}

}  // namespace

RunCallbacks::RunCallbacks() : early_stopping(early_stopping_options()), plateau(plateau_options()) {}

RunSettings run_settings() { return {{"--batch-size", "8"}, {"--seed", "3"}}; }

}  // namespace loom::fuzz
