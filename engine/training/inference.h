// Running a model on data without training it: Keras's evaluate and predict. A built model predicts; evaluate also
// needs the loss, from compile(). Neither needs a Trainer, and neither disturbs one: they read the data with their
// own cursor into their own totals (engine/training/evaluation_loop.h).
#pragma once

#include <cstdint>
#include <iostream>

#include "engine/data/labeled_images.h"
#include "engine/runtime/tensor.h"
#include "engine/training/fit_options.h"

namespace loom {

class Sequential;

// The compiled model's loss and metric over `data`. verbose 1 prints Keras's evaluate line to `out`:
// "313/313 - 0s - loss: 0.3364 - accuracy: 0.8826 - ..."
Evaluation evaluate(Sequential& model, const LabeledImages& data, int64_t batch_size = 32, int verbose = 0,
                    std::ostream& out = std::cout);

// Class probabilities, [N, classes] on the host, for uint8 images (scaled by 1/255 as in training) or float32
// images already scaled. With `probabilities` false, the outputs of the model's layers, as Keras's predict gives
// them: the logits of a model whose loss takes logits, the probabilities of one that ends in a softmax.
Tensor predict(Sequential& model, const Tensor& images, int64_t batch_size = 32, bool probabilities = true);

}  // namespace loom
