#include "engine/training/batch_gradients.h"

#include "engine/model/sequential.h"
#include "engine/training/train_step.h"
#include "engine/training/trainer.h"

namespace loom {

void compute_gradients(Trainer& trainer, const Tensor& x, const Tensor& labels) {
  TrainStep& step = trainer.step();
  Sequential& model = trainer.model();
  BatchViews& v = model.load_batch(x, labels);
  model.forward(v, /*training=*/true);
  model.compute_loss(v, step.totals(), /*with_gradient=*/true);
  model.backward(v);
}

double batch_loss(Trainer& trainer, const Tensor& x, const Tensor& labels) {
  TrainStep& step = trainer.step();
  Sequential& model = trainer.model();
  BatchViews& v = model.load_batch(x, labels);
  Tensor& totals = step.totals();
  totals.zero();
  model.forward(v, /*training=*/true);
  model.compute_loss(v, totals, /*with_gradient=*/false);
  return totals.to_vector()[0] / static_cast<double>(v.rows);
}

}  // namespace loom
