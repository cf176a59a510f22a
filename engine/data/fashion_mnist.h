// Loading the Fashion-MNIST data set (Zalando's 28x28 grey-scale clothing images in ten classes) from the four IDX
// files the Debian/Ubuntu package dataset-fashion-mnist installs. The images stay uint8 on the host here; moving
// them to the device and normalizing them per batch is the trainer's job.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/data/labeled_images.h"

namespace loom {

// Label i names class i, in the order the data set defines.
extern const std::array<const char*, 10> kFashionMnistClassNames;

// The images' side: 28x28 pixels, what the tutorial models take.
constexpr int64_t kFashionMnistSide = 28;

struct FashionMnist {
  LabeledImages train;  // 60,000 samples (empty when only the test set was loaded)
  LabeledImages test;   // 10,000 samples
  // The files read, so that a run can refuse to write over its own data set.
  std::vector<std::string> files;
};

// Where to look for the data set: the --data flag value if non-empty, else $FASHION_MNIST_DIR if set and
// non-empty, else /usr/share/datasets/fashion-mnist.
std::string resolve_fashion_mnist_dir(const std::string& flag_value);

// Loads an images file (rank 3) and a labels file (rank 1) into CPU tensors: images uint8 [N, rows, cols], labels
// uint8 [N]. Throws loom::Error naming the file at fault when either
// is unreadable or malformed, when their counts disagree, or when a label is not below num_classes.
LabeledImages load_labeled_images(const std::string& images_path, const std::string& labels_path, int num_classes = 10);

// Loads dir/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz, falling back to the same names without .gz.
// A missing directory or file throws loom::UsageError naming it and saying how to install the data set, a path that
// is not a directory a UsageError saying so; a directory or file that exists but cannot be read (permissions) throws
// loom::Error "cannot read '<path>': <reason>", as does a corrupt file (naming it). All four are found and checked
// readable before any is read.
FashionMnist load_fashion_mnist(const std::string& dir);

// The test set only, for evaluating a saved model: the same checks, on the two t10k files; `train` stays empty.
FashionMnist load_fashion_mnist_test_set(const std::string& dir);

}  // namespace loom
