#include "engine/data/fashion_mnist.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "engine/data/idx_reader.h"
#include "engine/io/file_text.h"
#include "engine/io/input_file.h"
#include "engine/runtime/errors.h"

namespace loom {

const std::array<const char*, 10> kFashionMnistClassNames = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

namespace {

constexpr const char* kDefaultDir = "/usr/share/datasets/fashion-mnist";
constexpr const char* kInstallHint =
    "install the data set with: sudo apt-get install dataset-fashion-mnist, "
    "or pass --data DIR";

Tensor to_u8_tensor(const IdxArray& array) {
  Tensor t(Shape(array.dims.begin(), array.dims.end()), Device::CPU, DType::U8);
  std::memcpy(t.data<uint8_t>(), array.values.data(), array.values.size());
  return t;
}

// "Permission denied" and the like: why a path that may well exist cannot be used.
[[noreturn]] void cannot_read(const std::string& path, const std::error_code& error) {
  throw Error("cannot read '" + one_line(path) + "': " + error.message());
}

// Whether `path` names something, telling "there is nothing there" (false) from "it cannot be looked at" (an Error
// naming the reason: a folder on the way that may not be searched, a broken disk).
bool exists_or_unreadable(const std::string& path) {
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (status.type() == std::filesystem::file_type::not_found) return false;
  if (error) cannot_read(path, error);
  return true;
}

// The gzip name first (what the package installs), then the uncompressed name (what a user who ran gunzip has). A
// file that is there but may not be read is an Error saying so, not "not found" with an install hint.
std::string find_data_file(const std::string& dir, const std::string& stem) {
  const std::filesystem::path base = std::filesystem::path(dir) / stem;
  for (const std::string& name : {base.string() + ".gz", base.string()}) {
    if (!exists_or_unreadable(name)) continue;
    // The rule of engine/io/input_file.h: what is not a file to read is bad usage, a file that cannot be read is not.
    struct stat status {};
    if (::stat(name.c_str(), &status) == 0 && !S_ISREG(status.st_mode))
      throw UsageError(one_line(name) + ": is " + file_kind(status.st_mode) + ", not a file");
    if (::access(name.c_str(), R_OK) != 0) cannot_read(name, std::error_code(errno, std::generic_category()));
    return name;
  }
  throw UsageError(one_line(base.string()) + ".gz: Fashion-MNIST file not found (nor without .gz); " + kInstallHint);
}

}  // namespace

std::string resolve_fashion_mnist_dir(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  const char* env = std::getenv("FASHION_MNIST_DIR");
  if (env && *env) return env;
  return kDefaultDir;
}

LabeledImages load_labeled_images(const std::string& images_path, const std::string& labels_path, int num_classes) {
  if (num_classes < 1 || num_classes > 256)
    throw UsageError("load_labeled_images: num_classes must be in [1, 256] for uint8 labels, got " +
                     std::to_string(num_classes));

  IdxArray images = read_idx(images_path);
  if (images.dims.size() != 3)
    throw Error(images_path + ": expected images of rank 3 (count x rows x cols), found rank " +
                std::to_string(images.dims.size()));
  IdxArray labels = read_idx(labels_path);
  if (labels.dims.size() != 1)
    throw Error(labels_path + ": expected labels of rank 1, found rank " + std::to_string(labels.dims.size()));
  if (labels.dims[0] != images.dims[0])
    throw Error(labels_path + ": " + std::to_string(labels.dims[0]) + " labels for " + std::to_string(images.dims[0]) +
                " images in " + images_path);
  for (size_t i = 0; i < labels.values.size(); ++i)
    if (labels.values[i] >= num_classes)
      throw Error(labels_path + ": label " + std::to_string(labels.values[i]) + " at index " + std::to_string(i) +
                  " is outside [0, " + std::to_string(num_classes) + ")");

  LabeledImages result;
  result.images = to_u8_tensor(images);
  result.labels = to_u8_tensor(labels);
  return result;
}

namespace {

// The directory checked and the named files of the sets wanted found and checked readable, before any is read, so a
// half-installed directory fails fast instead of after a 47 MB read.
std::vector<std::string> find_data_files(const std::string& dir, const std::vector<std::string>& stems) {
  if (dir.empty()) throw UsageError(std::string("Fashion-MNIST directory is an empty path; ") + kInstallHint);
  if (!exists_or_unreadable(dir))
    throw UsageError(one_line(dir) + ": Fashion-MNIST directory not found; " + kInstallHint);
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error))
    throw UsageError(one_line(dir) + ": not a directory (give the directory that holds the four Fashion-MNIST " +
                     "files)");
  // Search permission is what opening the files by name takes (a folder may be searchable, not listable).
  if (::access(dir.c_str(), X_OK) != 0) cannot_read(dir, std::error_code(errno, std::generic_category()));
  std::vector<std::string> files;
  for (const std::string& stem : stems) files.push_back(find_data_file(dir, stem));
  return files;
}

constexpr int kClasses = static_cast<int>(std::tuple_size_v<decltype(kFashionMnistClassNames)>);

}  // namespace

FashionMnist load_fashion_mnist(const std::string& dir) {
  FashionMnist data;
  data.files = find_data_files(
      dir, {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"});
  const std::string &train_images = data.files[0], &test_images = data.files[2];
  data.train = load_labeled_images(train_images, data.files[1], kClasses);
  data.test = load_labeled_images(test_images, data.files[3], kClasses);
  // A model built for the training images' size cannot evaluate test images of another size.
  if (data.test.images.dim(1) != data.train.images.dim(1) || data.test.images.dim(2) != data.train.images.dim(2))
    throw Error(test_images + ": images are " + std::to_string(data.test.images.dim(1)) + "x" +
                std::to_string(data.test.images.dim(2)) + " but the training images in " + train_images + " are " +
                std::to_string(data.train.images.dim(1)) + "x" + std::to_string(data.train.images.dim(2)));
  return data;
}

FashionMnist load_fashion_mnist_test_set(const std::string& dir) {
  FashionMnist data;
  data.files = find_data_files(dir, {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"});
  data.test = load_labeled_images(data.files[0], data.files[1], kClasses);
  return data;
}

}  // namespace loom
