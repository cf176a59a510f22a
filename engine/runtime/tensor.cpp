#include "engine/runtime/tensor.h"

#include <algorithm>
#include <cstring>

#include "engine/runtime/cuda_memory.h"
#include "engine/runtime/errors.h"

namespace loom {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return 4;
    case DType::I32:
      return 4;
    case DType::U8:
      return 1;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return "float32";
    case DType::I32:
      return "int32";
    case DType::U8:
      return "uint8";
  }
  return "?";
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

std::string keras_shape(const Shape& sample) {
  std::string s = "(None";
  for (int64_t d : sample) s += ", " + std::to_string(d);
  return s + ")";
}

Tensor::Tensor(Shape shape, Device device, DType dtype) : shape_(std::move(shape)), device_(device), dtype_(dtype) {
  for (int64_t d : shape_)
    if (d < 0) throw Error("tensor shape " + shape_str(shape_) + " has a negative dimension");
  storage_ = Buffer(device == Device::CUDA ? Memory::Device : Memory::Host, bytes());
  data_ = storage_.data();
}

Tensor Tensor::zeros(Shape shape, Device device, DType dtype) {
  Tensor t(std::move(shape), device, dtype);
  t.zero();
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, Shape shape, Device device) {
  if (static_cast<int64_t>(values.size()) != shape_numel(shape))
    throw Error("from_vector: " + std::to_string(values.size()) + " values do not fill shape " + shape_str(shape));
  Tensor host = wrap(const_cast<float*>(values.data()), shape, Device::CPU);
  Tensor t(std::move(shape), device);
  t.copy_from(host);
  return t;
}

Tensor Tensor::wrap(void* data, Shape shape, Device device, DType dtype) {
  Tensor t;
  t.data_ = data;
  t.shape_ = std::move(shape);
  t.device_ = device;
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::view() const { return wrap(data_, shape_, device_, dtype_); }

Tensor Tensor::reshaped(Shape shape) const {
  if (shape_numel(shape) != numel())
    throw Error("cannot reshape " + shape_str(shape_) + " to " + shape_str(shape) + ": element counts differ");
  return wrap(data_, std::move(shape), device_, dtype_);
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
  if (shape_.empty() || begin < 0 || end < begin || end > shape_[0])
    throw Error("rows [" + std::to_string(begin) + ", " + std::to_string(end) + ") out of range for shape " +
                shape_str(shape_));
  Shape s = shape_;
  s[0] = end - begin;
  int64_t row_elems = shape_[0] ? numel() / shape_[0] : 0;
  char* base = static_cast<char*>(data_) + static_cast<size_t>(begin * row_elems) * dtype_size(dtype_);
  return wrap(base, std::move(s), device_, dtype_);
}

Tensor Tensor::to(Device device) const {
  Tensor t(shape_, device, dtype_);
  t.copy_from(*this);
  return t;
}

void Tensor::copy_from(const Tensor& source) {
  if (source.dtype_ != dtype_ || source.numel() != numel())
    throw Error("copy_from: cannot copy " + std::string(dtype_name(source.dtype_)) + shape_str(source.shape_) +
                " into " + dtype_name(dtype_) + shape_str(shape_));
  if (bytes() == 0) return;
  if (device_ == Device::CPU && source.device_ == Device::CPU) {
    std::memmove(data_, source.data_, bytes());
    return;
  }
  // Copies run in stream order with the ops; a copy to the host waits so the caller can read the result.
  cuda_memory::copy(data_, source.data_, bytes(), device_ == Device::CPU || source.device_ == Device::CPU);
}

std::vector<float> Tensor::to_vector() const {
  std::vector<float> values(static_cast<size_t>(numel()));
  Tensor host = wrap(values.data(), shape_, Device::CPU, DType::F32);
  host.copy_from(*this);
  return values;
}

void Tensor::fill(float value) {
  if (device_ == Device::CUDA)
    cuda_memory::fill(f32(), numel(), value);
  else
    std::fill(f32(), f32() + numel(), value);
}

void Tensor::zero() {
  if (bytes() == 0) return;
  if (device_ == Device::CPU) {
    std::memset(data_, 0, bytes());
  } else {
    cuda_memory::zero(data_, bytes());
  }
}

void Tensor::check_dtype(DType wanted) const {
  if (wanted != dtype_) throw Error(std::string("tensor of ") + dtype_name(dtype_) + " read as " + dtype_name(wanted));
}

void expect_shape(const Tensor& t, const Shape& shape, const char* op, const char* name) {
  if (t.shape() != shape)
    throw Error(std::string(op) + ": " + name + " has shape " + shape_str(t.shape()) + ", expected " +
                shape_str(shape));
}

bool has_shape(const Tensor& t, std::initializer_list<int64_t> shape) {
  return std::equal(t.shape().begin(), t.shape().end(), shape.begin(), shape.end());
}

void expect_shape(const Tensor& t, std::initializer_list<int64_t> shape, const char* op, const char* name) {
  if (!has_shape(t, shape)) expect_shape(t, Shape(shape), op, name);
}

void expect_same_device(const char* op, std::initializer_list<const Tensor*> tensors) {
  const Tensor* first = *tensors.begin();
  for (const Tensor* t : tensors)
    if (t->device() != first->device())
      throw Error(std::string(op) + ": tensors on different devices (" + device_name(first->device()) + " and " +
                  device_name(t->device()) + "); copy them explicitly with to()");
}

}  // namespace loom
