// The PNG picture reader (engine/data/picture_file.h, predict's IMAGE arguments) on any bytes: a loom::Error, or a
// 28x28 uint8 picture. Inputs of odd length are read with inversion, so both conversions are covered.
#include <cstddef>
#include <cstdint>

#include "engine/data/picture_file.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace loom;
  static const fuzz::ScratchFile file{".png"};
  PictureOptions options;
  options.invert = size % 2 == 1;
  fuzz::expect_loom_errors([&] {
    const Tensor picture = read_picture(file.write(fuzz::bytes_of(data, size)), options);
    fuzz::check(picture.shape() == Shape{kPictureSide, kPictureSide} && picture.dtype() == DType::U8 &&
                    picture.device() == Device::CPU,
                "a picture of another shape, type or device");
  });
  return 0;
}
