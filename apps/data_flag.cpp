#include "apps/data_flag.h"

#include <cstdlib>

#include "engine/io/file_text.h"
#include "engine/runtime/errors.h"

namespace loom::apps {

namespace {

// `load` on the place --data, the environment or the default names; failures keep their type and say who chose it.
template <class Load>
FashionMnist load_from_chosen_place(const std::string& flag_value, Load load) {
  const std::string dir = resolve_fashion_mnist_dir(flag_value);
  const char* env = std::getenv("FASHION_MNIST_DIR");
  // The default's messages name it and say how to install the data set; the others say who chose the place.
  const std::string prefix = !flag_value.empty() ? "--data: " : env && *env ? "$FASHION_MNIST_DIR: " : "";
  FashionMnist data;
  try {
    data = load(dir);
  } catch (const UsageError& e) {
    throw UsageError(prefix + e.what());
  } catch (const Error& e) {
    throw Error(prefix + e.what());
  }
  for (const LabeledImages* set : {&data.train, &data.test})
    if (!set->images.empty() && (set->images.dim(1) != kFashionMnistSide || set->images.dim(2) != kFashionMnistSide))
      throw Error(prefix + "'" + one_line(dir) + "' holds " + std::to_string(set->images.dim(1)) + "x" +
                  std::to_string(set->images.dim(2)) + " images; Fashion-MNIST's, which the models take, are " +
                  std::to_string(kFashionMnistSide) + "x" + std::to_string(kFashionMnistSide));
  return data;
}

}  // namespace

FashionMnist load_data_set(const std::string& flag_value) {
  return load_from_chosen_place(flag_value, load_fashion_mnist);
}

FashionMnist load_test_set(const std::string& flag_value) {
  return load_from_chosen_place(flag_value, load_fashion_mnist_test_set);
}

}  // namespace loom::apps
