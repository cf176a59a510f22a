// Writes the fuzzers' seed corpora, valid files made by loom's own writers (and zlib's, libpng's), into
//   OUT/idx, OUT/safetensors, OUT/checkpoint, OUT/model_file, OUT/history, OUT/picture
// so that no binary file lives in git, and checks that each seed passes its reader.
//   usage: make_seeds OUT [FASHION_MNIST_DIR]
// With FASHION_MNIST_DIR, its t10k-labels-idx1-ubyte.gz (a real data file, 5 KB) is an IDX seed too.
#include <png.h>
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "engine/data/idx_reader.h"
#include "engine/data/labeled_images.h"
#include "engine/data/picture_file.h"
#include "engine/io/safetensors.h"
#include "engine/model/architecture.h"
#include "engine/model/model_file.h"
#include "engine/model/models.h"
#include "engine/training/checkpoint.h"
#include "engine/training/history_file.h"
#include "engine/training/trainer.h"
#include "fuzz/fuzz_support.h"

namespace {

using namespace loom;
namespace fs = std::filesystem;
using Bytes = std::string;

void write_file(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out.good()) throw Error("cannot write " + path.string());
}

Bytes read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// ---- IDX ----------------------------------------------------------------------------------------------------------

Bytes idx(const std::vector<uint32_t>& dims, unsigned seed) {
  Bytes out = {0, 0, 0x08, static_cast<char>(dims.size())};
  size_t count = 1;
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((d >> shift) & 0xff);
    count *= d;
  }
  for (size_t i = 0; i < count; ++i) out += static_cast<char>((i * 37 + seed * 11) % 256);
  return out;
}

Bytes gzip(const Bytes& raw) {
  z_stream stream{};
  if (deflateInit2(&stream, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) throw Error("deflateInit2");
  Bytes out(deflateBound(&stream, raw.size()) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  stream.avail_in = static_cast<uInt>(raw.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (status != Z_STREAM_END) throw Error("deflate");
  return out;
}

void idx_seeds(const fs::path& dir, const std::string& data_dir) {
  const std::vector<std::vector<uint32_t>> shapes = {{10}, {3, 5}, {2, 4, 4}, {2, 2, 3, 2}};
  for (size_t i = 0; i < shapes.size(); ++i) {
    const Bytes raw = idx(shapes[i], static_cast<unsigned>(i));
    write_file(dir / ("rank" + std::to_string(shapes[i].size())), raw);
    write_file(dir / ("rank" + std::to_string(shapes[i].size()) + ".gz"), gzip(raw));
  }
  const Bytes images = idx({3, 6, 6}, 7);  // `cat a.gz b.gz`: two gzip members
  write_file(dir / "two_members.gz", gzip(images.substr(0, 20)) + gzip(images.substr(20)));
  if (!data_dir.empty()) {
    const fs::path labels = fs::path(data_dir) / "t10k-labels-idx1-ubyte.gz";
    if (fs::exists(labels)) fs::copy_file(labels, dir / "t10k-labels-idx1-ubyte.gz");
  }
}

// ---- the seed run: checkpoints, weights, histories ------------------------------------------------------------

LabeledImages random_images(int64_t n) {
  LabeledImages data{Tensor({n, 4, 4}, Device::CPU, DType::U8), Tensor({n}, Device::CPU, DType::U8)};
  uint32_t state = 12345;
  auto next = [&] { return (state = state * 1103515245u + 12345u) >> 16; };
  for (int64_t i = 0; i < n * 16; ++i) data.images.data<uint8_t>()[i] = static_cast<uint8_t>(next());
  for (int64_t i = 0; i < n; ++i) data.labels.data<uint8_t>()[i] = static_cast<uint8_t>(next() % 10);
  return data;
}

// Trains the fuzzers' model (fuzz_support.h) with its callbacks and a checkpoint after every epoch.
History seed_run(const fs::path& checkpoint, int epochs) {
  auto model = fuzz::make_model();
  fuzz::RunCallbacks callbacks;
  const RunDescription run = {{"program", "make_seeds"}, {"--epochs", std::to_string(epochs)}};
  CheckpointWriter writer(checkpoint.string(), fuzz::run_settings(), {}, run);
  FitOptions options;
  options.epochs = epochs;
  options.batch_size = 8;
  options.seed = 3;
  options.verbose = 0;
  options.validation_split = 0.25;
  options.callbacks = callbacks.list();
  options.callbacks.push_back(&writer);
  const LabeledImages data = random_images(32);
  return Trainer(*model).fit(data, options);
}

void model_seeds(const fs::path& out) {
  const fs::path checkpoints = out / "checkpoint", models = out / "model_file", tensors = out / "safetensors";
  const History three = seed_run(checkpoints / "three_epochs.safetensors", 3);
  seed_run(checkpoints / "one_epoch.safetensors", 1);
  for (const char* name : {"three_epochs.safetensors", "one_epoch.safetensors"}) {
    fs::copy_file(checkpoints / name, models / name);
    fs::copy_file(checkpoints / name, tensors / name);
  }

  auto model = fuzz::make_model();
  save_weights(*model, (models / "weights.safetensors").string(), {{"program", "make_seeds"}, {"path", "a\xff"}});
  save_weights(*model, (models / "weights_no_run.safetensors").string());
  auto cnn = make_cnn(2, 4, Device::CPU, 1);  // Conv2D and MaxPooling2D in the architecture
  save_weights(*cnn, (models / "cnn.safetensors").string());
  for (const char* name : {"weights.safetensors", "cnn.safetensors"}) fs::copy_file(models / name, tensors / name);

  // Every dtype the reader takes, an empty tensor, a scalar, metadata.
  SafetensorsWriter writer;
  const float floats[6] = {1.5f, -2.f, 0.f, std::numeric_limits<float>::infinity(), 3.25f, -0.f};
  const int32_t ints[3] = {-7, 0, 1 << 30};
  const uint8_t bytes[4] = {0, 1, 254, 255};
  writer.add("f32", DType::F32, {2, 3}, floats);
  writer.add("i32", DType::I32, {3}, ints);
  writer.add("u8", DType::U8, {2, 1, 2}, bytes);
  writer.add("scalar", DType::F32, {}, floats);
  writer.add("empty", DType::F32, {0, 4}, nullptr);
  writer.set_metadata("note", "fuzz seed");
  writer.set_metadata("format", "pt");
  write_file(tensors / "dtypes.safetensors", writer.serialize());

  // Histories: the seed run's (validated), one without validation, one at the ends of every range with its time
  // and some learning rates not recorded, and Keras's own files (no learning rate or time; JSON without "epoch").
  History plain = three, odd = three;
  for (EpochResult& epoch : plain) epoch.validated = false;
  odd[0].loss = 0;
  odd[0].accuracy = 1;
  odd[1].val_loss = 1e300;
  odd[1].val_accuracy = 0;
  odd[1].learning_rate = std::nan("");
  odd[2].validated = false;
  odd[2].learning_rate = 1e-300;
  for (EpochResult& epoch : odd) epoch.seconds = std::nan("");
  const std::vector<std::pair<std::string, History>> histories = {{"run", three}, {"plain", plain}, {"odd", odd}};
  fuzz::ScratchFile csv(".csv"), json(".json");
  for (const auto& [name, history] : histories) {
    write_history(history, csv.path());
    write_file(out / "history" / (name + ".csv"), "c" + read_file(csv.path()));
    write_file(out / "history" / (name + ".json"), "j" + history_json(history));
  }
  write_file(out / "history" / "keras.csv",
             "cepoch,accuracy,learning_rate,loss,val_accuracy,val_loss\r\n"
             "0,0.8192777633666992,0.001,0.5139447450637817,NA,NA\r\n"
             "1,0.8617777824401855,0.0005,0.3799,0.8568333387374878,0.3957\r\n");
  write_file(out / "history" / "keras.json",
             R"(j{"accuracy": [0.8192777633666992, 0.8617777824401855], "loss": [0.5139447450637817, 0.3799], )"
             R"("val_accuracy": [0.8416666388511658, 0.8568333387374878], "val_loss": [0.4388, 0.3957]})");
}

// ---- PNG ----------------------------------------------------------------------------------------------------------

struct PngSpec {
  std::string name;
  png_uint_32 width, height;
  int bit_depth, color_type;
  bool interlaced = false;
  bool palette_alpha = false;
};

void write_png(const fs::path& path, const PngSpec& spec) {
  FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) throw Error("cannot write " + path.string());
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    std::fclose(file);
    throw Error("libpng failed writing " + path.string());
  }
  png_init_io(png, file);
  png_set_IHDR(png, info, spec.width, spec.height, spec.bit_depth, spec.color_type,
               spec.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (spec.color_type == PNG_COLOR_TYPE_PALETTE) {
    png_color palette[4] = {{0, 0, 0}, {255, 0, 0}, {0, 128, 255}, {255, 255, 255}};
    png_set_PLTE(png, info, palette, 4);
    if (spec.palette_alpha) {
      png_byte alpha[2] = {0, 128};
      png_set_tRNS(png, info, alpha, 2, nullptr);
    }
  }
  png_write_info(png, info);
  const size_t row_bytes = png_get_rowbytes(png, info);
  std::vector<png_byte> row(row_bytes);
  const int passes = spec.interlaced ? png_set_interlace_handling(png) : 1;
  for (int pass = 0; pass < passes; ++pass) {
    for (png_uint_32 y = 0; y < spec.height; ++y) {
      for (size_t x = 0; x < row_bytes; ++x) row[x] = static_cast<png_byte>((x * 29 + y * 71) % 256);
      if (spec.color_type == PNG_COLOR_TYPE_PALETTE && spec.bit_depth == 8)
        for (png_byte& b : row) b %= 4;
      png_write_row(png, row.data());
    }
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(file);
}

void picture_seeds(const fs::path& dir) {
  const std::vector<PngSpec> specs = {
      {"gray8_28x28", 28, 28, 8, PNG_COLOR_TYPE_GRAY},
      {"gray1_9x5", 9, 5, 1, PNG_COLOR_TYPE_GRAY},
      {"gray16_6x7", 6, 7, 16, PNG_COLOR_TYPE_GRAY},
      {"gray_alpha8_5x3", 5, 3, 8, PNG_COLOR_TYPE_GRAY_ALPHA},
      {"rgb8_40x12", 40, 12, 8, PNG_COLOR_TYPE_RGB},
      {"rgba16_3x4", 3, 4, 16, PNG_COLOR_TYPE_RGBA},
      {"palette2_30x31_trns", 30, 31, 2, PNG_COLOR_TYPE_PALETTE, false, true},
      {"palette8_4x4", 4, 4, 8, PNG_COLOR_TYPE_PALETTE},
      {"rgb8_interlaced_11x13", 11, 13, 8, PNG_COLOR_TYPE_RGB, true},
  };
  for (const PngSpec& spec : specs) write_png(dir / (spec.name + ".png"), spec);
}

// Every seed must pass its reader, or the fuzzer would start outside the checks it is meant to explore (a change
// to the model in fuzz_support.h, or to a writer, would otherwise go unnoticed).
void check_seeds(const fs::path& out) {
  auto each = [&](const char* target, auto read) {
    for (const fs::directory_entry& entry : fs::directory_iterator(out / target)) {
      try {
        read(entry.path());
      } catch (const Error& e) {
        throw Error(std::string("seed ") + entry.path().string() + " does not pass its reader: " + e.what());
      }
    }
  };
  each("idx", [](const fs::path& path) { read_idx(path.string()); });
  each("safetensors", [](const fs::path& path) { SafetensorsFile::read(path.string()); });
  each("checkpoint", [](const fs::path& path) {
    auto model = fuzz::make_model();
    Trainer trainer(*model);
    fuzz::RunCallbacks callbacks;
    resume_from_checkpoint(path.string(), trainer, callbacks.list(), fuzz::run_settings());
  });
  each("model_file", [](const fs::path& path) {
    const SafetensorsFile file = open_model_file(path.string());
    read_run_description(file);
    check_architecture(file.metadata("architecture"));
    if (path.filename() != "cnn.safetensors") load_weights(*fuzz::make_model(), path.string());
  });
  each("history", [](const fs::path& path) {
    const Bytes text = read_file(path).substr(1);
    fuzz::ScratchFile csv(".csv");
    if (read_file(path)[0] == 'c') {
      read_history(csv.write(text));
    } else {
      history_from_json(text, path.string());
    }
  });
  each("picture", [](const fs::path& path) { read_picture(path.string()); });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: make_seeds OUT [FASHION_MNIST_DIR]\n";
    return 2;
  }
  try {
    const fs::path out = argv[1];
    for (const char* target : {"idx", "safetensors", "checkpoint", "model_file", "history", "picture"}) {
      fs::remove_all(out / target);
      fs::create_directories(out / target);
    }
    idx_seeds(out / "idx", argc > 2 ? argv[2] : "");
    model_seeds(out);
    picture_seeds(out / "picture");
    check_seeds(out);
  } catch (const std::exception& e) {
    std::cerr << "make_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
