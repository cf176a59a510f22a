// Optimizers update the model's trainable parameters, one flat buffer, from their gradients, one flat buffer of the
// same layout: a single kernel launch per step, whatever the number of layers. The learning rate is read from the
// device (the training step state's slot), so a schedule that changes it between steps reaches a replayed graph.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/runtime/tensor.h"
#include "kernels/adam.h"

namespace loom {

class ConfigReader;

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::string name() const = 0;
  // The rate training starts from (the step state holds the current one).
  virtual float initial_learning_rate() const = 0;
  // Allocates state shaped like the parameters, on their device; resets any earlier state.
  virtual void prepare(const Tensor& params) = 0;
  // Enqueues one update with the rate in `learning_rate` (float32 [1] on the parameters' device); no host
  // synchronization.
  virtual void step(Tensor& params, const Tensor& grads, const Tensor& learning_rate) = 0;

  // Keras's get_config: the settings that rebuild it ("learning_rate": 0.001, "beta_1": 0.9, ...), for saved models.
  // Each optimizer class reads them back in a static from_config(const ConfigReader&) (engine/layers/config_json.h)
  // and has a line in engine/model/class_registry.cpp, which finds the class a file names.
  virtual std::vector<std::pair<std::string, double>> config() const = 0;
  // For checkpoints, so a resumed run goes on exactly: state laid out like the trainable parameters, by name
  // (Adam's moments "adam_m" and "adam_v"), and the number of steps taken (Adam's bias correction depends on it).
  virtual std::vector<std::pair<std::string, Tensor*>> parameter_state() { return {}; }
  virtual int64_t steps_taken() const { return 0; }   // waits for the device
  virtual void set_steps_taken(int64_t /*steps*/) {}  // after prepare(), between steps
  // What a checkpoint's reader holds the saved state to: whether steps_taken() counts every training step since
  // prepare() (else it stays 0), and whether a slot holds variances (never negative).
  virtual bool counts_steps() const { return false; }
  virtual bool slot_holds_variances(const std::string& /*slot*/) const { return false; }
};

class Adam : public Optimizer {
 public:
  explicit Adam(AdamHyper hyper = {});
  std::string name() const override { return "Adam"; }
  float initial_learning_rate() const override { return hyper_.learning_rate; }
  void prepare(const Tensor& params) override;
  void step(Tensor& params, const Tensor& grads, const Tensor& learning_rate) override;
  std::vector<std::pair<std::string, double>> config() const override;
  static std::unique_ptr<Optimizer> from_config(const ConfigReader& config);
  std::vector<std::pair<std::string, Tensor*>> parameter_state() override { return {{"adam_m", &m_}, {"adam_v", &v_}}; }
  int64_t steps_taken() const override;
  void set_steps_taken(int64_t steps) override;
  bool counts_steps() const override { return true; }
  // The second moments are running means of squared gradients.
  bool slot_holds_variances(const std::string& slot) const override { return slot == "adam_v"; }
  const AdamHyper& hyper() const { return hyper_; }

 private:
  AdamHyper hyper_;
  Tensor m_, v_, schedule_;
};

class SGD : public Optimizer {
 public:
  explicit SGD(float learning_rate = 0.01f);
  std::string name() const override { return "SGD"; }
  float initial_learning_rate() const override { return learning_rate_; }
  void prepare(const Tensor&) override {}
  void step(Tensor& params, const Tensor& grads, const Tensor& learning_rate) override;
  std::vector<std::pair<std::string, double>> config() const override;
  static std::unique_ptr<Optimizer> from_config(const ConfigReader& config);

 private:
  float learning_rate_;
};

// The check every place that takes a learning rate shares: positive and finite, or UsageError naming `who`.
void check_learning_rate(float learning_rate, const std::string& who);

}  // namespace loom
