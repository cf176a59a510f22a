// Activations that can be fused into a producing op's epilogue (Dense, Conv2D).
#pragma once

namespace loom {

enum class Activation { None, ReLU, Softmax };

const char* activation_name(Activation act);

}  // namespace loom
