// A typed, shaped block of memory on the CPU or the GPU. A Tensor either owns its memory (through a Buffer) or is
// a view of memory owned elsewhere; views are cheap and must not outlive their owner. Copies between devices are
// explicit (to(), copy_from()).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/runtime/buffer.h"
#include "engine/runtime/device.h"

namespace loom {

enum class DType { F32, I32, U8 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);  // "(32, 28, 28)"
// Keras's way of writing a per-sample shape whose batch dimension is open: "(None, 784)".
std::string keras_shape(const Shape& sample);

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::F32;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::I32;
}
template <>
constexpr DType dtype_of<uint8_t>() {
  return DType::U8;
}

class Tensor {
 public:
  Tensor() = default;
  // Uninitialized memory of the given shape; fill() or copy_from() before reading it.
  Tensor(Shape shape, Device device, DType dtype = DType::F32);

  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;

  static Tensor zeros(Shape shape, Device device, DType dtype = DType::F32);
  static Tensor from_vector(const std::vector<float>& values, Shape shape, Device device);
  // A view of memory owned elsewhere.
  static Tensor wrap(void* data, Shape shape, Device device, DType dtype = DType::F32);

  const Shape& shape() const { return shape_; }
  int64_t dim(size_t i) const { return shape_.at(i); }
  size_t rank() const { return shape_.size(); }
  int64_t numel() const { return shape_numel(shape_); }
  size_t bytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  Device device() const { return device_; }
  DType dtype() const { return dtype_; }
  bool empty() const { return data_ == nullptr; }
  bool owns_memory() const { return storage_.data() != nullptr; }

  void* raw() const { return data_; }
  template <class T>
  T* data() const {
    check_dtype(dtype_of<T>());
    return static_cast<T*>(data_);
  }
  float* f32() const { return data<float>(); }

  // Views (no copy) of the same memory.
  Tensor view() const;
  Tensor reshaped(Shape shape) const;             // same element count
  Tensor rows(int64_t begin, int64_t end) const;  // a slice along dimension 0

  // Deep copies.
  Tensor to(Device device) const;
  void copy_from(const Tensor& source);  // same dtype and element count; any pair of devices
  std::vector<float> to_vector() const;  // F32 only; waits for the GPU

  void fill(float value);  // F32 only
  void zero();

 private:
  void check_dtype(DType wanted) const;

  Buffer storage_;
  void* data_ = nullptr;
  Shape shape_;
  Device device_ = Device::CPU;
  DType dtype_ = DType::F32;
};

// Shape checks for op entry points: throw loom::Error naming the op and both shapes. Ops run them on every call, inside
// training steps, so a shape written out as a braced list ({rows, cols}) is compared as it is, never built into a
// Shape (which would allocate) unless the check fails.
bool has_shape(const Tensor& t, std::initializer_list<int64_t> shape);
void expect_shape(const Tensor& t, const Shape& shape, const char* op, const char* name);
void expect_shape(const Tensor& t, std::initializer_list<int64_t> shape, const char* op, const char* name);
void expect_same_device(const char* op, std::initializer_list<const Tensor*> tensors);

}  // namespace loom
