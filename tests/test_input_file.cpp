// Every reader of a file a user names opens it through engine/io/input_file.h: each refuses a FIFO at once (a read
// that waited for a writer would hang predict --idx and report --run), a directory, a device, a symlink loop and a
// missing file in the same words, typed by the one rule (UsageError, exit 2: no file or not a file; Error, exit 1:
// a file that cannot be read).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/data/idx_reader.h"
#include "engine/data/picture_file.h"
#include "engine/io/input_file.h"
#include "engine/io/safetensors.h"
#include "engine/model/model_file.h"
#include "engine/runtime/errors.h"
#include "engine/training/history_file.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

namespace fs = std::filesystem;

struct Reader {
  const char* name;
  std::function<void(const std::string&)> read;
  // How the reader names `path` at the start of its messages.
  std::function<std::string(const std::string&)> label;
};

std::vector<Reader> readers() {
  auto quoted = [](const char* kind) { return [kind](const std::string& p) { return kind + (" '" + p + "'"); }; };
  return {
      {"IDX", [](const std::string& p) { read_idx(p); }, [](const std::string& p) { return p; }},
      {"safetensors", [](const std::string& p) { SafetensorsFile::read(p); }, quoted("safetensors file")},
      {"saved model", [](const std::string& p) { load_model(p, Device::CPU); }, quoted("safetensors file")},
      {"history", [](const std::string& p) { read_history(p); }, quoted("history file")},
      {"picture", [](const std::string& p) { read_picture(p); }, quoted("picture")},
  };
}

enum class Kind { None, Usage, Runtime };

struct Outcome {
  Kind kind = Kind::None;
  std::string message;
};

Outcome outcome_of(const std::function<void()>& read) {
  try {
    read();
  } catch (const UsageError& e) {
    return {Kind::Usage, e.what()};
  } catch (const Error& e) {
    return {Kind::Runtime, e.what()};
  }
  return {};
}

class InputFiles : public TempDirTest {
 protected:
  // Each reader reading `name` in the scratch folder fails with exactly `<label>: <problem>`, of the given kind.
  // The names end in .csv, which the history reader asks for and the others ignore.
  void expect_refused(const std::string& name, Kind kind, const std::string& problem) {
    const std::string file = path(name);
    for (const Reader& reader : readers()) {
      SCOPED_TRACE(reader.name);
      // In a thread of its own: a reader that waited for a FIFO's writer fails here instead of hanging the suite.
      std::future<Outcome> result =
          std::async(std::launch::async, [&] { return outcome_of([&] { reader.read(file); }); });
      if (result.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
        ADD_FAILURE() << reader.name << " is still waiting for '" << file << "' after 20 s";
        // A writer that comes and goes releases a reader stuck in open() or read(), so the test can end.
        const int fd = ::open(file.c_str(), O_WRONLY | O_NONBLOCK);
        if (fd >= 0) ::close(fd);
      }
      const Outcome got = result.get();
      EXPECT_EQ(got.message, reader.label(file) + ": " + problem);
      EXPECT_EQ(static_cast<int>(got.kind), static_cast<int>(kind))
          << "(1: UsageError, exit 2; 2: Error, exit 1) for " << got.message;
    }
  }
};

TEST_F(InputFiles, FifoIsRefusedAtOnceByEveryReader) {
  ASSERT_EQ(::mkfifo(path("pipe.csv").c_str(), 0600), 0);
  expect_refused("pipe.csv", Kind::Usage, "is a FIFO, not a file");
}

TEST_F(InputFiles, DirectoryIsRefusedByEveryReader) {
  fs::create_directory(path("folder.csv"));
  expect_refused("folder.csv", Kind::Usage, "is a directory, not a file");
}

TEST_F(InputFiles, DeviceIsRefusedWithoutBeingOpened) {
  if (!fs::exists("/dev/null")) GTEST_SKIP() << "no /dev/null here";
  fs::create_symlink("/dev/null", path("null.csv"));
  expect_refused("null.csv", Kind::Usage, "is a character device, not a file");
}

TEST_F(InputFiles, MissingFileIsAUsageError) {
  expect_refused("absent.csv", Kind::Usage, "no such file");
  std::ofstream(path("plain")) << "x";
  expect_refused("plain/inner.csv", Kind::Usage, "no such file (a name on its path is a file, not a folder)");
}

// A loop is a file that cannot be read, not a missing one: the message says so rather than "no such file".
TEST_F(InputFiles, SymlinkLoopSaysSo) {
  fs::create_symlink(path("b.csv"), path("a.csv"));
  fs::create_symlink(path("a.csv"), path("b.csv"));
  expect_refused("a.csv", Kind::Runtime, "cannot read: Too many levels of symbolic links");
}

TEST_F(InputFiles, UnreadableFileIsARuntimeError) {
  if (::geteuid() == 0) GTEST_SKIP() << "running as root, which reads files whatever their permissions";
  std::ofstream(path("locked.csv")) << "x";
  fs::permissions(path("locked.csv"), fs::perms::none);
  expect_refused("locked.csv", Kind::Runtime, "cannot read: Permission denied");
}

TEST_F(InputFiles, ReadsARegularFileWhole) {
  std::ofstream(path("f"), std::ios::binary) << std::string(200000, 'a') << "end";
  InputFile file(path("f"), "f");
  EXPECT_EQ(file.status().st_size, 200003);
  EXPECT_EQ(file.read_all(1 << 20), std::string(200000, 'a') + "end");
  // Within a limit, one byte beyond it says the file is larger.
  InputFile again(path("f"), "f");
  EXPECT_EQ(again.read_all(10).size(), 11u);
  // O_NONBLOCK, used to open, is cleared.
  EXPECT_EQ(::fcntl(again.fd(), F_GETFL) & O_NONBLOCK, 0);
}

TEST(FileKind, NamesEachKind) {
  EXPECT_STREQ(file_kind(S_IFDIR), "a directory");
  EXPECT_STREQ(file_kind(S_IFIFO), "a FIFO");
  EXPECT_STREQ(file_kind(S_IFCHR), "a character device");
  EXPECT_STREQ(file_kind(S_IFBLK), "a block device");
  EXPECT_STREQ(file_kind(S_IFSOCK), "a socket");
}

}  // namespace
}  // namespace loom::test
