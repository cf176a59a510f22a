#include "kernels/adam.h"

#include "engine/runtime/tensor.h"
#include "kernels/cpu_parallel.h"

namespace loom {

namespace {

// The CPU path's Adam on one slice: the reference's loop, as AVX2 and SSE2 clones (a square root and a division an
// element make it arithmetic-bound: the AVX2 clone takes 39 µs for the MLP's 101,770 parameters, the SSE2 one 68).
// It loops here, over the reference's inline element, because a call into kernels/adam_ref.cpp would run the
// baseline build of the loop in both clones.
LOOM_AVX2_CLONES void adam_slice(float* params, const float* grads, float* m, float* v, const float* schedule,
                                 const AdamConstants<float>& constants, int64_t n) {
  const float alpha = schedule[kAdamAlpha];
  for (int64_t i = 0; i < n; ++i) ref::adam_update_element(params[i], grads[i], m[i], v[i], alpha, constants);
}

}  // namespace

void adam_advance(Tensor& schedule, const Tensor& learning_rate, const AdamHyper& hyper) {
  expect_shape(schedule, {kAdamScheduleSlots}, "adam_advance", "schedule");
  expect_shape(learning_rate, {1}, "adam_advance", "learning rate");
  expect_same_device("adam_advance", {&schedule, &learning_rate});
  if (schedule.device() == Device::CUDA)
    cuda::adam_advance(schedule.f32(), learning_rate.f32(), hyper);
  else
    ref::adam_advance(schedule.f32(), learning_rate.f32()[0], hyper);
}

void adam_update(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v, const Tensor& schedule,
                 const AdamHyper& hyper) {
  const char* op = "adam_update";
  expect_shape(grads, params.shape(), op, "gradients");
  expect_shape(m, params.shape(), op, "first moments");
  expect_shape(v, params.shape(), op, "second moments");
  expect_shape(schedule, {kAdamScheduleSlots}, op, "schedule");
  expect_same_device(op, {&params, &grads, &m, &v, &schedule});
  if (params.device() == Device::CUDA)
    cuda::adam_update(params.f32(), grads.f32(), m.f32(), v.f32(), schedule.f32(), hyper, params.numel());
  else  // the CPU path: the reference on slices, one per thread (a square root and a division an element)
    cpu::parallel_ranges(params.numel(), 4, [&, constants = adam_constants<float>(hyper)](int64_t begin, int64_t end) {
      adam_slice(params.f32() + begin, grads.f32() + begin, m.f32() + begin, v.f32() + begin, schedule.f32(), constants,
                 end - begin);
    });
}

}  // namespace loom
