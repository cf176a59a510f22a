// Trains the tutorial MLP briefly on the real Fashion-MNIST data on the CPU reference and checks it learns: chance
// is 0.10, and a few hundred Adam steps reach well above 0.70. Skips, saying why, if the data set is not installed.
#include <gtest/gtest.h>

#include "engine/data/fashion_mnist.h"
#include "engine/model/models.h"
#include "engine/training/inference.h"
#include "engine/training/trainer.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

LabeledImages first_rows(const LabeledImages& data, int64_t n) {
  return {data.images.rows(0, n), data.labels.rows(0, n)};
}

TEST(EndToEnd, MlpLearnsFashionMnistOnTheCpu) {
  std::string dir = fashion_mnist_dir_or_empty();
  if (dir.empty()) GTEST_SKIP() << "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)";
  FashionMnist data = load_fashion_mnist(dir);
  auto model = make_mlp({128}, Device::CPU, 1);
  FitOptions options;
  options.epochs = 1;
  options.max_steps_per_epoch = 400;  // 12,800 images
  options.verbose = 0;
  auto history = Trainer(*model).fit(data.train, options);
  EXPECT_GT(history[0].accuracy, 0.65);
  Evaluation eval = evaluate(*model, first_rows(data.test, 2000), 32);
  EXPECT_GT(eval.accuracy, 0.75) << "test loss " << eval.loss;
  EXPECT_LT(eval.loss, 0.75);
}

}  // namespace
}  // namespace loom::test
