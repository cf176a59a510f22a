// The check every cuDNN-planned op makes before using its plan: a plan's descriptors and workspace describe one
// geometry, and running it on another would read and write out of bounds, so a mismatch is a hard error.
#pragma once

#include <string>

#include "engine/runtime/errors.h"

namespace loom {

// `describe` turns a geometry into words (the op's geometry_str).
template <class Plan, class Geometry, class Describe>
const Plan& checked_plan(const Plan* plan, const Geometry& g, const char* op, const char* plan_name,
                         Describe describe) {
  if (!plan)
    throw Error(std::string(op) + ": CUDA tensors need a " + plan_name + " made for " + describe(g) +
                " (the layer was not prepared for this batch size)");
  if (!(plan->geometry() == g))
    throw Error(std::string(op) + ": the " + plan_name + " was made for another batch size or geometry (" +
                describe(plan->geometry()) + "), called with " + describe(g));
  return *plan;
}

}  // namespace loom
