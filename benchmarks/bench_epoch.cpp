// Times whole training epochs of the tutorial models and reports them against the hardware's floor, as JSON.
//
//   bench_epoch --model mlp --epochs 5 --json mlp.json
//
// It first checks that training works (the warm-up epoch must lower the loss and reach a sensible accuracy), then
// times each further epoch with CUDA events (host clock on the CPU) and reports the median ms/epoch, µs/step,
// images/s, achieved FLOP/s and the fraction of the FP32 peak from counted FLOPs, and loom's peak GPU memory with
// its per-epoch level (which must not grow). Like the PyTorch reference, it does no host work per step while it
// times: fit's NaN guard, which on the GPU queries an event every step and copies the running totals every 16 ms,
// is off unless --nan-guard asks to time epochs as the apps train them.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/data_flag.h"
#include "apps/number_flags.h"
#include "apps/threads_flag.h"
#include "apps/training_app.h"
#include "benchmarks/hardware.h"
#include "engine/data/fashion_mnist.h"
#include "engine/io/file_text.h"
#include "engine/model/models.h"
#include "engine/runtime/buffer.h"
#include "engine/runtime/cpu_pool.h"
#include "engine/runtime/cpu_threads.h"
#include "engine/runtime/cuda_context.h"
#include "engine/runtime/errors.h"
#include "engine/training/inference.h"
#include "engine/training/trainer.h"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time training epochs of the Fashion-MNIST MLP or CNN", "bench_epoch"};
  loom::apps::TrainingFlags flags;
  flags.epochs = 5;
  std::string model_name = "mlp", json_path;
  int64_t max_steps = 0;
  double peak_tflops = 0;
  bool nan_guard = false;
  loom::apps::add_training_flags(app, flags);
  // A benchmark times plain epochs and keeps nothing: the flags for callbacks, augmentation and files would be
  // accepted and ignored, so they are not offered (and refused if given).
  for (const char* unused : {"--validation-split", "--validation-data", "--no-shuffle", "--stop-at-loss",
                             "--early-stopping", "--lr-schedule", "--random-shift", "--random-flip", "--history",
                             "--save", "--checkpoint", "--resume", "--load", "--report"})
    app.remove_option(app.get_option(unused));
  app.add_option("--model", model_name, "mlp or cnn")->capture_default_str();
  // The name compare.py and pytorch_reference.py share; --steps-per-epoch, the training apps' name, is the same limit.
  loom::apps::add_whole_number_option(
      app, "--max-steps", max_steps, 0,
      "time at most N steps an epoch, as --steps-per-epoch (0: the whole training set)");
  app.add_option("--json", json_path, "write the results here as JSON (they are printed too)");
  app.add_flag("--nan-guard", nan_guard,
               "keep fit's NaN guard on while timing, as train_mlp and train_cnn run (off: no per-step host work, as "
               "the PyTorch reference)");
  loom::apps::add_real_number_option(app, "--peak-tflops", peak_tflops,
                                     "FP32 peak to compare with (default: from the GPU's name)",
                                     loom::apps::kPositiveNumber)
      ->default_str("");
  // --epochs counts the timed epochs; one warm-up epoch runs before them.
  return loom::apps::run_guarded(app, argc, argv, [&] {
    if (model_name != "mlp" && model_name != "cnn")
      throw loom::UsageError("--model: expected mlp or cnn, got '" + loom::one_line(model_name) + "'");
    if (app.count("--steps-per-epoch") > 0 && app.count("--max-steps") > 0)
      throw loom::UsageError("--steps-per-epoch and --max-steps are one limit: give one of them");
    if (flags.steps_per_epoch > 0) max_steps = flags.steps_per_epoch;
    // Refused now, not after minutes of timing.
    if (!json_path.empty()) loom::bench::check_json_path(json_path);
    std::string note;
    loom::Device device = loom::apps::check_flags_and_pick_device(flags, &note);
    if (const loom::Device timed = loom::bench::timed_device(device, flags.device, &note); timed != device) {
      loom::apps::use_threads_flag(flags.threads, timed, &note);
      device = timed;
    }
    loom::FashionMnist data = loom::apps::load_data_set(flags.data);
    if (!note.empty()) std::cerr << "bench_epoch: " << note << "\n";
    const int64_t batch_size = flags.batch_size;
    const int epochs = flags.epochs;
    loom::AdamHyper adam;
    adam.learning_rate = flags.learning_rate;
    const bool cnn = model_name == "cnn";
    loom::LabeledImages train = cnn ? loom::with_channel_axis(data.train)
                                    : loom::LabeledImages{data.train.images.view(), data.train.labels.view()};
    loom::LabeledImages probe{data.test.images.rows(0, 1000), data.test.labels.rows(0, 1000)};
    if (cnn) probe = loom::with_channel_axis(probe);
    auto model =
        cnn ? loom::make_cnn(64, 128, device, flags.seed, adam) : loom::make_mlp({128}, device, flags.seed, adam);

    // Training must work before its speed means anything.
    double initial_loss = loom::evaluate(*model, probe, 100).loss;
    loom::FitOptions options;
    options.epochs = epochs + 1;
    options.batch_size = batch_size;
    options.verbose = 0;
    options.stop_on_nan = nan_guard;  // a diverged run still fails the training check below
    options.max_steps_per_epoch = max_steps;
    options.cuda_graph = !flags.no_graph;
    options.seed = flags.seed;
    loom::Trainer trainer(*model);
    auto history = trainer.fit(train, options);
    loom::Evaluation after = loom::evaluate(*model, probe, 100);
    const double min_accuracy = max_steps > 0 && max_steps < 500 ? 0.25 : 0.7;  // short runs: well above chance
    if (!(after.loss < initial_loss) || !(history[0].accuracy > min_accuracy))
      throw loom::Error("training does not work: loss " + std::to_string(initial_loss) + " -> " +
                        std::to_string(after.loss) + ", warm-up accuracy " + std::to_string(history[0].accuracy));

    const int64_t samples = max_steps > 0 ? std::min<int64_t>(train.size(), max_steps * batch_size) : train.size();
    const int64_t steps = (samples + batch_size - 1) / batch_size;
    std::vector<double> epoch_ms;
    std::vector<size_t> bytes_in_use;
    std::vector<int64_t> graph_steps;
    bool every_timed_epoch_replayed_a_graph = true;
    for (size_t e = 1; e < history.size(); ++e) {
      epoch_ms.push_back(device == loom::Device::CUDA ? history[e].device_ms : history[e].seconds * 1e3);
      bytes_in_use.push_back(history[e].device_bytes_in_use);
      graph_steps.push_back(history[e].graph_steps);
      every_timed_epoch_replayed_a_graph = every_timed_epoch_replayed_a_graph && history[e].graph_steps > 0;
    }
    const double ms = median(epoch_ms);
    const double flops_per_step = static_cast<double>(model->training_flops_per_sample()) * batch_size;
    const double achieved = flops_per_step * steps / (ms * 1e-3);
    loom::bench::Hardware hw = loom::bench::describe_hardware(device, peak_tflops);

    nlohmann::json out;
    out["program"] = "bench_epoch";
    out["model"] = model_name;
    out["device"] = loom::device_name(device);
    out["hardware"] = hw.name;
    out["batch_size"] = batch_size;
    out["steps_per_epoch"] = steps;
    // What happened, not what was asked: a failed capture falls back to ordinary launches.
    out["cuda_graph_requested"] = device == loom::Device::CUDA && !flags.no_graph;
    out["cuda_graph"] = every_timed_epoch_replayed_a_graph;
    out["graph_steps_per_epoch"] = graph_steps;
    if (!trainer.graph_failure().empty()) out["cuda_graph_failure"] = trainer.graph_failure();
    out["tf32"] = device == loom::Device::CUDA && flags.tf32;
    out["nan_guard"] = nan_guard;
    if (device == loom::Device::CPU) {
      out["cpu_threads"] = loom::cpu_threads();
      // How the pool fared: a team below cpu_threads, or shrinks, mean it found its cores shared.
      const loom::cpu::PoolCounters pool = loom::cpu::pool_counters();
      out["cpu_pool"] = {{"team_at_end", loom::cpu::pool_team()},
                         {"parallel_jobs", pool.jobs},
                         {"shrinks", pool.shrinks},
                         {"trials", pool.trials},
                         {"worst_core_share", pool.worst_share}};
    }
    out["validation"] = {{"initial_loss", initial_loss},
                         {"loss_after", after.loss},
                         {"accuracy_after", after.accuracy},
                         {"warmup_epoch_loss", history[0].loss},
                         {"warmup_epoch_accuracy", history[0].accuracy}};
    out["epoch_ms"] = epoch_ms;
    out["ms_per_epoch_median"] = ms;
    out["us_per_step"] = ms * 1e3 / steps;
    out["images_per_s"] = samples / (ms * 1e-3);
    out["flops_per_step"] = flops_per_step;
    out["achieved_tflops"] = achieved / 1e12;
    if (hw.fp32_peak_tflops > 0) {
      out["fp32_peak_tflops"] = hw.fp32_peak_tflops;
      out["fp32_floor_ms_per_epoch"] = flops_per_step * steps / (hw.fp32_peak_tflops * 1e12) * 1e3;
      out["fraction_of_fp32_peak"] = achieved / (hw.fp32_peak_tflops * 1e12);
    }
    if (device == loom::Device::CUDA) {
      out["peak_device_bytes"] = loom::Buffer::device_bytes_peak();
      out["device_bytes_in_use_per_epoch"] = bytes_in_use;
      out["device_memory_growth_bytes"] =
          static_cast<int64_t>(bytes_in_use.back()) - static_cast<int64_t>(bytes_in_use.front());
    }
    std::cout << out.dump(2) << "\n";
    if (!json_path.empty()) loom::bench::write_json_file(json_path, out);
  });
}
