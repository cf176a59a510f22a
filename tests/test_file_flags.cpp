// Paths the apps compare and check before a run (apps/file_flags.h): the same file under any spelling, also before
// it exists, so that no output replaces another output or an input; a path that cannot be looked up says why.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "apps/file_flags.h"
#include "engine/io/file_text.h"
#include "engine/runtime/errors.h"
#include "test_support.h"

namespace loom::test {
namespace {

class FileFlags : public ::testing::Test {
 protected:
  void SetUp() override {
    char folder[] = "/tmp/loom_file_flags_XXXXXX";
    ASSERT_NE(mkdtemp(folder), nullptr);
    folder_ = folder;
    ASSERT_EQ(getcwd(previous_, sizeof previous_), previous_);
    ASSERT_EQ(chdir(folder_.c_str()), 0);
  }
  void TearDown() override {
    EXPECT_EQ(chdir(previous_), 0);
    std::string command = "rm -rf '" + folder_ + "'";
    EXPECT_EQ(std::system(command.c_str()), 0);
  }
  std::string folder_;
  char previous_[4096] = {};
};

TEST_F(FileFlags, OneFileUnderEverySpellingAlsoBeforeItExists) {
  ASSERT_EQ(mkdir("real", 0755), 0);
  ASSERT_EQ(symlink("real", "linked"), 0);
  for (bool exists : {false, true}) {
    SCOPED_TRACE(exists ? "the file exists" : "no file yet");
    if (exists) std::ofstream("m.safetensors") << "x", std::ofstream("real/m.safetensors") << "x";
    EXPECT_TRUE(apps::same_file("m.safetensors", "./m.safetensors"));
    EXPECT_TRUE(apps::same_file("m.safetensors", folder_ + "/m.safetensors"));
    EXPECT_TRUE(apps::same_file("real/m.safetensors", "linked/m.safetensors"));
    EXPECT_TRUE(apps::same_file("real/../m.safetensors", "m.safetensors"));
    EXPECT_FALSE(apps::same_file("m.safetensors", "n.safetensors"));
    EXPECT_FALSE(apps::same_file("m.safetensors", "real/m.safetensors"));
  }
  // Another name for the same existing file.
  ASSERT_EQ(link("m.safetensors", "hard.safetensors"), 0);
  ASSERT_EQ(symlink("m.safetensors", "soft.safetensors"), 0);
  EXPECT_TRUE(apps::same_file("m.safetensors", "hard.safetensors"));
  EXPECT_TRUE(apps::same_file("soft.safetensors", "m.safetensors"));
}

TEST_F(FileFlags, AMissingFileIsNamedAndAPathThatCannotBeLookedUpSaysWhy) {
  expect_one_line_error<UsageError>([] { apps::require_existing_file("--load", "none.safetensors"); },
                                    {"--load: no file 'none.safetensors'"});
  ASSERT_EQ(symlink("loop", "loop"), 0);
  expect_one_line_error<Error>([] { apps::require_existing_file("--load", "loop"); },
                               {"--load: cannot read 'loop': Too many levels of symbolic links"});
  std::ofstream("there") << "x";
  EXPECT_NO_THROW(apps::require_existing_file("--load", "there"));
}

TEST(CountText, SingularForOnePluralOtherwise) {
  EXPECT_EQ(count_text(1, "epoch"), "1 epoch");
  EXPECT_EQ(count_text(0, "epoch"), "0 epochs");
  EXPECT_EQ(count_text(3, "class", "classes"), "3 classes");
  EXPECT_EQ(times_text(1), "once");
  EXPECT_EQ(times_text(2), "twice");
  EXPECT_EQ(times_text(5), "5 times");
}

}  // namespace
}  // namespace loom::test
