// write_file_atomically: the new contents arrive whole, and every kind of failure (missing or read-only folder,
// a write that stops halfway, a rename that cannot happen) leaves the previous file as it was, no temporary file
// behind, and one line naming the path.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "engine/io/atomic_file.h"
#include "engine/runtime/errors.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

namespace fs = std::filesystem;

class AtomicFile : public TempDirTest {
 protected:
  // Names in the folder, so a test can tell that no temporary file was left behind.
  std::set<std::string> listing() const {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) names.insert(entry.path().filename().string());
    return names;
  }
  // Runs `write`, expecting loom::Error with exactly `cannot write '<target>': <reason>`.
  template <class Write>
  void expect_failure(Write write, const std::string& target, const std::string& reason) {
    try {
      write();
      ADD_FAILURE() << "no error writing " << target;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), "cannot write '" + target + "': " + reason);
    }
  }
};

TEST_F(AtomicFile, WritesExactContents) {
  std::string contents = "line one\nline two\n";
  contents += std::string("\0\xff binary", 9);
  write_file_atomically(path("out.txt"), contents);
  EXPECT_EQ(slurp(path("out.txt")), contents);
  EXPECT_EQ(listing(), std::set<std::string>{"out.txt"});
}

TEST_F(AtomicFile, WritesEmptyAndLargeContents) {
  write_file_atomically(path("empty"), "");
  EXPECT_TRUE(fs::exists(path("empty")));
  EXPECT_EQ(fs::file_size(path("empty")), 0u);
  std::string large(1'000'000, 'x');
  for (size_t i = 0; i < large.size(); i += 4099) large[i] = static_cast<char>('a' + i % 26);
  write_file_atomically(path("large"), large);
  EXPECT_EQ(slurp(path("large")), large);
}

TEST_F(AtomicFile, OverwritesExistingFile) {
  write_file_atomically(path("out.txt"), "a much longer first version of the file\n");
  write_file_atomically(path("out.txt"), "short\n");
  EXPECT_EQ(slurp(path("out.txt")), "short\n");
  EXPECT_EQ(listing(), std::set<std::string>{"out.txt"});
}

TEST_F(AtomicFile, NewFileIsReadableLikeAnyOther) {
  write_file_atomically(path("out.txt"), "x");
  const mode_t mask = umask(022);
  umask(mask);
  struct stat info {};
  ASSERT_EQ(stat(path("out.txt").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0666 & ~mask) << "mkstemp's private 0600 should not leak into the result";
}

TEST_F(AtomicFile, MissingFolderFails) {
  const std::string target = path("no_such_folder/out.txt");
  expect_failure([&] { write_file_atomically(target, "x"); }, target, "No such file or directory");
  EXPECT_TRUE(listing().empty());
}

TEST_F(AtomicFile, ReadOnlyFolderFailsAndKeepsPreviousFile) {
  if (geteuid() == 0) GTEST_SKIP() << "running as root, which ignores folder permissions";
  write_file_atomically(path("out.txt"), "previous");
  fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec);
  expect_failure([&] { write_file_atomically(path("out.txt"), "new"); }, path("out.txt"), "Permission denied");
  fs::permissions(dir_, fs::perms::owner_all);
  EXPECT_EQ(slurp(path("out.txt")), "previous");
  EXPECT_EQ(listing(), std::set<std::string>{"out.txt"});
}

// A file-size limit makes write() stop partway with EFBIG, as a full disk stops it with ENOSPC; unlike a full
// disk it needs no special file system and holds for root too.
TEST_F(AtomicFile, WriteStoppingHalfwayKeepsPreviousFileAndRemovesTemporary) {
  write_file_atomically(path("out.txt"), "previous");
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  rlimit small = saved;
  small.rlim_cur = 4096;
  void (*saved_handler)(int) = signal(SIGXFSZ, SIG_IGN);  // otherwise exceeding the limit kills the process
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  expect_failure([&] { write_file_atomically(path("out.txt"), std::string(10000, 'n')); }, path("out.txt"),
                 "File too large");
  setrlimit(RLIMIT_FSIZE, &saved);
  signal(SIGXFSZ, saved_handler);
  EXPECT_EQ(slurp(path("out.txt")), "previous");
  EXPECT_EQ(listing(), std::set<std::string>{"out.txt"});
}

TEST_F(AtomicFile, RenameFailureRemovesTemporary) {
  // A non-empty folder where the file should go: everything succeeds up to the rename.
  fs::create_directory(path("taken"));
  std::ofstream(path("taken/inside")) << "kept";
  expect_failure([&] { write_file_atomically(path("taken"), "x"); }, path("taken"), "Is a directory");
  EXPECT_EQ(slurp(path("taken/inside")), "kept");
  EXPECT_EQ(listing(), std::set<std::string>{"taken"});
}

TEST_F(AtomicFile, RelativePathInCurrentFolder) {
  const fs::path before = fs::current_path();
  fs::current_path(dir_);
  write_file_atomically("relative.txt", "here");
  fs::current_path(before);
  EXPECT_EQ(slurp(path("relative.txt")), "here");
}

}  // namespace
}  // namespace loom::test
