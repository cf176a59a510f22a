// Micro-benchmarks of loom's hand-written kernels, each memory-bound one held against its bytes floor (every input
// read once, every output written once, at the device's memory bandwidth). Each kernel's result is first checked
// against the CPU reference; then it is warmed up and timed (CUDA events on the GPU, the host clock on the CPU),
// median of rounds.
//
//   bench_kernels --json kernels.json
#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "apps/number_flags.h"
#include "apps/threads_flag.h"
#include "apps/training_app.h"
#include "benchmarks/hardware.h"
#include "engine/runtime/epoch_timer.h"
#include "engine/runtime/errors.h"
#include "engine/runtime/tensor.h"
#include "kernels/adam.h"
#include "kernels/bias_activation.h"
#include "kernels/gather_batch.h"
#include "kernels/relu.h"
#include "kernels/softmax.h"
#include "kernels/softmax_cross_entropy.h"
#include "kernels/totals.h"

namespace loom::bench {
namespace {

std::vector<float> random_values(int64_t n, std::mt19937& rng, float lo = -1.f, float hi = 1.f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

// The same inputs on the device under test and on the CPU, so every case can check itself against the reference.
struct Pair {
  Tensor dev, cpu;
};
Pair floats(const std::vector<float>& values, const Shape& shape, Device device) {
  return {Tensor::from_vector(values, shape, device), Tensor::from_vector(values, shape, Device::CPU)};
}

double max_relative_error(const Tensor& got, const Tensor& want) {
  std::vector<float> a = got.to_vector(), b = want.to_vector();
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double err = std::fabs(double(a[i]) - b[i]) / std::max(1.0, std::fabs(double(b[i])));
    if (!std::isfinite(a[i])) err = INFINITY;
    worst = std::max(worst, err);
  }
  return worst;
}

struct Case {
  std::string name;
  std::string size;
  double bytes;                      // the floor's traffic: each input read once, each output written once
  std::function<void()> run_device;  // one launch on the device under test
  std::function<void()> run_cpu;     // the same on the CPU reference (for the check)
  std::function<double()> error;     // max relative error of the device result against the reference
  bool bytes_floor = true;           // false for a launch-bound kernel: its time is held against nothing
};

double time_once_ms(Device device, const std::function<void()>& run, int repeats) {
  if (device == Device::CUDA) {
    EpochTimer timer(device);
    timer.start();
    for (int i = 0; i < repeats; ++i) run();
    timer.stop();
    return timer.elapsed_ms() / repeats;
  }
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) run();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / repeats;
}

}  // namespace
}  // namespace loom::bench

int main(int argc, char** argv) {
  using namespace loom;
  using namespace loom::bench;
  using loom::apps::run_guarded;
  CLI::App app{"Time loom's hand-written kernels against their bytes floor", "bench_kernels"};
  std::string device_flag = "auto", json_path;
  int repeats = 200, rounds = 5;
  double bandwidth_override = 0;
  app.add_option("--device", device_flag, "auto, cuda or cpu")->capture_default_str();
  loom::apps::add_whole_number_option(app, "--repeats", repeats, 1, "launches per timing round");
  loom::apps::add_whole_number_option(app, "--rounds", rounds, 1, "timing rounds (the median is reported)");
  loom::apps::add_real_number_option(app, "--bandwidth-gbs", bandwidth_override,
                                     "memory bandwidth to compare with (default: by GPU name)",
                                     loom::apps::kPositiveNumber)
      ->default_str("");
  app.add_option("--json", json_path, "write the results here as JSON");
  int threads = 0;
  loom::apps::add_threads_option(app, threads);
  return run_guarded(app, argc, argv, [&] {
    loom::apps::check_threads_flag(threads, device_flag);
    if (!json_path.empty()) check_json_path(json_path);
    std::string note;
    const Device device = timed_device(resolve_device(device_flag, &note), device_flag, &note);
    loom::apps::use_threads_flag(threads, device, &note);
    if (!note.empty()) std::cerr << "bench_kernels: " << note << "\n";
    Hardware hw = describe_hardware(device);
    if (bandwidth_override > 0) hw.memory_bandwidth_gbs = bandwidth_override;
    std::mt19937 rng(1);
    std::vector<Case> cases;

    // Elementwise and epilogue kernels at the CNN's first activation size (32 × 26 × 26 × 64).
    const int64_t rows = 32 * 26 * 26, cols = 64, n = rows * cols;
    auto x = std::make_shared<Pair>(floats(random_values(n, rng), {rows, cols}, device));
    auto y = std::make_shared<Pair>(floats(random_values(n, rng), {rows, cols}, device));
    auto dy = std::make_shared<Pair>(floats(random_values(n, rng), {rows, cols}, device));
    auto bias = std::make_shared<Pair>(floats(random_values(cols, rng), {cols}, device));
    auto dbias = std::make_shared<Pair>(floats(random_values(cols, rng), {cols}, device));
    const std::string act_size = "(" + std::to_string(rows) + ", " + std::to_string(cols) + ")";
    cases.push_back({"relu_forward", act_size, 8.0 * n, [=] { relu_forward(x->dev, y->dev); },
                     [=] { relu_forward(x->cpu, y->cpu); }, [=] { return max_relative_error(y->dev, y->cpu); }});
    cases.push_back({"relu_backward", act_size, 12.0 * n, [=] { relu_backward(x->dev, dy->dev, y->dev); },
                     [=] { relu_backward(x->cpu, dy->cpu, y->cpu); },
                     [=] { return max_relative_error(y->dev, y->cpu); }});
    // In place, so repeated launches keep adding the bias: the check compares one launch from the same start.
    cases.push_back({"bias_relu_forward", act_size, 8.0 * n + 4.0 * cols,
                     [=] { bias_activation_forward(y->dev, bias->dev, Activation::ReLU); },
                     [=] { bias_activation_forward(y->cpu, bias->cpu, Activation::ReLU); },
                     [=] { return max_relative_error(y->dev, y->cpu); }});
    cases.push_back({"bias_relu_backward", act_size, 12.0 * n + 4.0 * cols,
                     [=] { bias_activation_backward(x->dev, dy->dev, dbias->dev, Activation::ReLU); },
                     [=] { bias_activation_backward(x->cpu, dy->cpu, dbias->cpu, Activation::ReLU); },
                     [=] {
                       return std::max(max_relative_error(dy->dev, dy->cpu),
                                       max_relative_error(dbias->dev, dbias->cpu) / 1e2);
                     }});

    // Row kernels at the training batch (launch-bound) and at a bandwidth-bound size.
    for (int64_t r : {int64_t(32), int64_t(1) << 18}) {
      const int64_t c = 10;
      auto logits = std::make_shared<Pair>(floats(random_values(r * c, rng, -4, 4), {r, c}, device));
      auto probs = std::make_shared<Pair>(floats(random_values(r * c, rng), {r, c}, device));
      auto grad = std::make_shared<Pair>(floats(random_values(r * c, rng), {r, c}, device));
      std::vector<int32_t> label_values(static_cast<size_t>(r));
      for (auto& l : label_values) l = static_cast<int32_t>(rng() % c);
      Tensor labels_host = Tensor::wrap(label_values.data(), {r}, Device::CPU, DType::I32);
      auto labels = std::make_shared<Pair>(Pair{labels_host.to(device), labels_host.to(Device::CPU)});
      auto totals = std::make_shared<Pair>(floats({0.f, 0.f}, {kTotalsSlots}, device));
      const std::string size = "(" + std::to_string(r) + ", 10)";
      cases.push_back({"softmax_forward", size, 8.0 * r * c, [=] { softmax_forward(logits->dev, probs->dev); },
                       [=] { softmax_forward(logits->cpu, probs->cpu); },
                       [=] { return max_relative_error(probs->dev, probs->cpu); }});
      cases.push_back(
          {"softmax_cross_entropy", size, 12.0 * r * c + 4.0 * r,
           [=] { softmax_cross_entropy(logits->dev, labels->dev, probs->dev, &grad->dev, 1.f / r, nullptr); },
           [=] { softmax_cross_entropy(logits->cpu, labels->cpu, probs->cpu, &grad->cpu, 1.f / r, nullptr); },
           [=] { return max_relative_error(grad->dev, grad->cpu); }});
    }

    // Adam over the CNN's 243,786 parameters, as a training step runs it: one thread advances the step count and
    // the bias-corrected rate (a launch's latency; no bytes floor means anything there), then the update reads p, g,
    // m, v and writes p, m, v. Timed apart, so the update is held against its own floor.
    {
      const int64_t p = 243786;
      AdamHyper hyper;
      auto rate = std::make_shared<Pair>(floats({hyper.learning_rate}, {1}, device));
      auto advanced = std::make_shared<Pair>(floats({0.f, 0.f}, {kAdamScheduleSlots}, device));
      cases.push_back({"adam_advance", "(1 thread)", 20.0, [=] { adam_advance(advanced->dev, rate->dev, hyper); },
                       [=] { adam_advance(advanced->cpu, rate->cpu, hyper); },
                       [=] { return max_relative_error(advanced->dev, advanced->cpu); }, /*bytes_floor=*/false});
      auto params = std::make_shared<Pair>(floats(random_values(p, rng), {p}, device));
      auto grads = std::make_shared<Pair>(floats(random_values(p, rng), {p}, device));
      auto m = std::make_shared<Pair>(floats(std::vector<float>(p, 0.f), {p}, device));
      auto v = std::make_shared<Pair>(floats(std::vector<float>(p, 0.f), {p}, device));
      auto schedule = std::make_shared<Pair>(floats({0.f, 0.f}, {kAdamScheduleSlots}, device));
      adam_advance(schedule->dev, rate->dev, hyper);  // the first step's count and rate, on both sides
      adam_advance(schedule->cpu, rate->cpu, hyper);
      cases.push_back({"adam_update", "(243786,)", 28.0 * p,
                       [=] { adam_update(params->dev, grads->dev, m->dev, v->dev, schedule->dev, hyper); },
                       [=] { adam_update(params->cpu, grads->cpu, m->cpu, v->cpu, schedule->cpu, hyper); },
                       [=] { return max_relative_error(params->dev, params->cpu); }});
    }

    // Batch gathering: 32 images of 784 bytes in, 32 × 784 floats and 32 labels out.
    {
      const int64_t stored = 60000, b = 32;
      std::vector<uint8_t> pixels(static_cast<size_t>(stored * 784)), label_bytes(static_cast<size_t>(stored));
      for (auto& px : pixels) px = static_cast<uint8_t>(rng());
      for (auto& l : label_bytes) l = static_cast<uint8_t>(rng() % 10);
      std::vector<int32_t> order(static_cast<size_t>(stored));
      for (int64_t i = 0; i < stored; ++i) order[static_cast<size_t>(i)] = static_cast<int32_t>((i * 7919) % stored);
      Tensor images_h = Tensor::wrap(pixels.data(), {stored, 28, 28}, Device::CPU, DType::U8);
      Tensor labels_h = Tensor::wrap(label_bytes.data(), {stored}, Device::CPU, DType::U8);
      Tensor order_h = Tensor::wrap(order.data(), {stored}, Device::CPU, DType::I32);
      int32_t zero = 0;
      Tensor cursor_h = Tensor::wrap(&zero, {1}, Device::CPU, DType::I32);
      auto images = std::make_shared<Pair>(Pair{images_h.to(device), images_h.to(Device::CPU)});
      auto labels = std::make_shared<Pair>(Pair{labels_h.to(device), labels_h.to(Device::CPU)});
      auto ord = std::make_shared<Pair>(Pair{order_h.to(device), order_h.to(Device::CPU)});
      auto cursor = std::make_shared<Pair>(Pair{cursor_h.to(device), cursor_h.to(Device::CPU)});
      auto xb = std::make_shared<Pair>(floats(std::vector<float>(b * 784, 0.f), {b, 28, 28}, device));
      auto yb = std::make_shared<Pair>(Pair{Tensor({b}, device, DType::I32), Tensor({b}, Device::CPU, DType::I32)});
      cases.push_back({"gather_batch", "(32, 28, 28)", b * (784.0 + 784.0 * 4 + 4 + 4 + 1),
                       [=] { gather_batch(images->dev, labels->dev, ord->dev, cursor->dev, xb->dev, yb->dev); },
                       [=] { gather_batch(images->cpu, labels->cpu, ord->cpu, cursor->cpu, xb->cpu, yb->cpu); },
                       [=] { return max_relative_error(xb->dev, xb->cpu); }});
    }

    nlohmann::json results = nlohmann::json::array();
    std::printf("%-22s %-16s %12s %10s %10s %8s\n", "kernel", "size", "median_us", "floor_us", "GB/s", "of_peak");
    for (const Case& c : cases) {
      // Check first: one launch on each side from the same inputs.
      c.run_device();
      c.run_cpu();
      double error = c.error();
      if (!(error <= 1e-4))
        throw Error(c.name + ": result differs from the CPU reference (max relative error " + std::to_string(error) +
                    ")");
      time_once_ms(device, c.run_device, std::max(1, repeats / 10));  // warm-up
      std::vector<double> ms;
      for (int r = 0; r < rounds; ++r) ms.push_back(time_once_ms(device, c.run_device, repeats));
      std::sort(ms.begin(), ms.end());
      double median_us = ms[ms.size() / 2] * 1e3;
      double gbs = c.bytes / (median_us * 1e-6) / 1e9;
      nlohmann::json row = {{"kernel", c.name},       {"size", c.size},      {"bytes", c.bytes},
                            {"median_us", median_us}, {"achieved_gbs", gbs}, {"max_relative_error", error}};
      double floor_us = 0, fraction = 0;
      const bool has_floor = c.bytes_floor && hw.memory_bandwidth_gbs > 0;
      if (has_floor) {
        floor_us = c.bytes / (hw.memory_bandwidth_gbs * 1e9) * 1e6;
        fraction = gbs / hw.memory_bandwidth_gbs;
        row["floor_us"] = floor_us;
        row["fraction_of_bandwidth"] = fraction;
      }
      if (has_floor)
        std::printf("%-22s %-16s %12.2f %10.2f %10.1f %7.1f%%\n", c.name.c_str(), c.size.c_str(), median_us, floor_us,
                    gbs, fraction * 100);
      else  // no bandwidth known for this device (a CPU), or a launch-bound kernel: no floor to hold the time against
        std::printf("%-22s %-16s %12.2f %10s %10.1f %8s\n", c.name.c_str(), c.size.c_str(), median_us, "n/a", gbs,
                    "n/a");
      results.push_back(row);
    }
    nlohmann::json out = {{"program", "bench_kernels"},
                          {"device", device_name(device)},
                          {"hardware", hw.name},
                          {"memory_bandwidth_gbs", hw.memory_bandwidth_gbs},
                          {"kernels", results}};
    if (!json_path.empty()) write_json_file(json_path, out);
  });
}
