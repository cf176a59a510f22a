// write_file_atomically: the new contents arrive whole, and every kind of failure (missing or read-only folder,
// a write that stops halfway, a signal during it) leaves the previous file as it was, no temporary file behind, and
// one line naming the path; special files are refused and stay what they are; long legal names are written.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <climits>

#include <cerrno>
#include <cstring>
#include <functional>

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

TEST_F(AtomicFile, RefusesDirectoryAndCreatesNothing) {
  fs::create_directory(path("taken"));
  std::ofstream(path("taken/inside")) << "kept";
  expect_failure([&] { write_file_atomically(path("taken"), "x"); }, path("taken"),
                 "it is a directory, not a regular file");
  EXPECT_EQ(slurp(path("taken/inside")), "kept");
  EXPECT_EQ(listing(), std::set<std::string>{"taken"});
}

// Renaming over a device node would replace it with a plain file (as root, /dev/null itself). The test makes its own
// node, a copy of /dev/null's numbers, never touching the machine's /dev.
TEST_F(AtomicFile, RefusesCharacterDeviceAndLeavesItADevice) {
  if (mknod(path("nul").c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0)
    GTEST_SKIP() << "cannot create a device node here (" << std::strerror(errno) << "; it needs root)";
  ASSERT_EQ(::symlink("nul", path("link").c_str()), 0);
  expect_failure([&] { write_file_atomically(path("nul"), "x"); }, path("nul"),
                 "it is a character device, not a regular file");
  expect_failure([&] { write_file_atomically(path("link"), "x"); }, path("link"),
                 "it is a character device, not a regular file");
  EXPECT_THROW(check_writable_path(path("nul"), "file"), UsageError);
  struct stat info {};
  ASSERT_EQ(lstat(path("nul").c_str(), &info), 0);
  EXPECT_TRUE(S_ISCHR(info.st_mode));
  EXPECT_EQ(info.st_rdev, makedev(1, 3));
  ASSERT_EQ(lstat(path("link").c_str(), &info), 0);
  EXPECT_TRUE(S_ISLNK(info.st_mode));
  EXPECT_EQ(listing(), (std::set<std::string>{"link", "nul"}));
}

TEST_F(AtomicFile, RefusesFifoAndLeavesItAFifo) {
  ASSERT_EQ(mkfifo(path("pipe").c_str(), 0666), 0) << std::strerror(errno);
  expect_failure([&] { write_file_atomically(path("pipe"), "x"); }, path("pipe"), "it is a FIFO, not a regular file");
  struct stat info {};
  ASSERT_EQ(lstat(path("pipe").c_str(), &info), 0);
  EXPECT_TRUE(S_ISFIFO(info.st_mode));
  EXPECT_EQ(listing(), std::set<std::string>{"pipe"});
}

// The longest name a folder takes, in bytes (255 on the usual file systems).
size_t name_limit(const std::string& folder) { return static_cast<size_t>(pathconf(folder.c_str(), _PC_NAME_MAX)); }

// The temporary name adds ".tmp.XXXXXX": without shortening, a legal name of 245 bytes or more could not be written.
TEST_F(AtomicFile, WritesNamesUpToTheLimit) {
  const size_t limit = name_limit(dir_);
  ASSERT_GE(limit, 14u);
  for (size_t bytes : {limit - 3, limit}) {
    const std::string name(bytes, 'n');
    write_file_atomically(path(name), "long name");
    EXPECT_EQ(slurp(path(name)), "long name");
    EXPECT_EQ(listing(), std::set<std::string>{name});
    fs::remove(path(name));
  }
  // Shortened at a character boundary: a name of two-byte characters still fits.
  std::string accented = "a";
  while (accented.size() + 2 <= limit) accented += "\xc3\xa9";
  write_file_atomically(path(accented), "accented");
  EXPECT_EQ(slurp(path(accented)), "accented");
}

TEST_F(AtomicFile, CheckRefusesNamesBeyondTheLimit) {
  const size_t limit = name_limit(dir_);
  EXPECT_NO_THROW(check_writable_path(path(std::string(limit, 'n')), "file"));
  const std::string too_long = path(std::string(limit + 1, 'n'));
  try {
    check_writable_path(too_long, "file");
    ADD_FAILURE() << "a name of " << limit + 1 << " bytes was accepted";
  } catch (const UsageError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(std::to_string(limit + 1) + " bytes long"), std::string::npos) << message;
    EXPECT_NE(message.find("longer than the " + std::to_string(limit) + " bytes"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  // A path whose temporary name would reach PATH_MAX, each name in it legal: refused now, not after the run.
  std::string deep = dir_;
  while (deep.size() < PATH_MAX - 8) deep += "/" + std::string(200, 'd');
  expect_one_line_error<UsageError>([&] { check_writable_path(deep + "/m", "file"); }, {"the path is too long"});
}

// A signal in the middle of a write. A file-size limit stops the write partway with SIGXFSZ, whose handler sends
// the signal under test: it arrives, deterministically, while the temporary file exists and holds part of the data.
class AtomicFileSignal : public AtomicFile {
 protected:
  static void send_test_signal(int) { ::kill(::getpid(), test_signal); }
  static inline int test_signal = 0;

  struct Outcome {
    int status = 0;
    std::string stderr_text;
  };
  // Runs `child` in a forked process whose file size is limited to 4 KiB; the exit status and what it printed.
  Outcome run_child(int signal_number, const std::function<int()>& child) {
    int pipe_fds[2];
    EXPECT_EQ(pipe(pipe_fds), 0);
    test_signal = signal_number;
    const pid_t pid = fork();
    if (pid == 0) {
      ::close(pipe_fds[0]);
      ::dup2(pipe_fds[1], STDERR_FILENO);
      // As in a program started from a terminal: a shell's background job (ctest shards, CI) inherits SIGINT ignored,
      // and the writer rightly leaves an ignored signal alone.
      ::signal(signal_number, SIG_DFL);
      struct sigaction action {};
      action.sa_handler = send_test_signal;
      sigaction(SIGXFSZ, &action, nullptr);
      rlimit small{4096, 4096};
      setrlimit(RLIMIT_FSIZE, &small);
      // Never back into the test runner from the forked copy, whatever the child does.
      try {
        _exit(child());
      } catch (...) {
        _exit(4);
      }
    }
    ::close(pipe_fds[1]);
    Outcome outcome;
    char buffer[4096];
    for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) outcome.stderr_text.append(buffer, n);
    ::close(pipe_fds[0]);
    EXPECT_EQ(waitpid(pid, &outcome.status, 0), pid);
    return outcome;
  }
};

TEST_F(AtomicFileSignal, SignalDuringWriteRemovesTemporaryAndKeepsPreviousFile) {
  for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) {
    SCOPED_TRACE(strsignal(signal_number));
    write_file_atomically(path("out.bin"), "previous");
    const Outcome outcome = run_child(signal_number, [&] {
      write_file_atomically(path("out.bin"), std::string(100000, 'n'));
      return 3;  // not reached: the signal ends the process
    });
    ASSERT_TRUE(WIFSIGNALED(outcome.status)) << "status " << outcome.status << ", " << outcome.stderr_text;
    EXPECT_EQ(WTERMSIG(outcome.status), signal_number);
    EXPECT_EQ(slurp(path("out.bin")), "previous");
    EXPECT_EQ(listing(), std::set<std::string>{"out.bin"});
    EXPECT_EQ(outcome.stderr_text, "loom_tests: interrupted while writing '" + path("out.bin") +
                                       "': the unfinished copy was removed, the previous '" + path("out.bin") +
                                       "' is kept as it was\n");
  }
}

TEST_F(AtomicFileSignal, SignalDuringFirstWriteLeavesNoFile) {
  const Outcome outcome = run_child(SIGTERM, [&] {
    write_file_atomically(path("new.bin"), std::string(100000, 'n'));
    return 3;
  });
  ASSERT_TRUE(WIFSIGNALED(outcome.status)) << "status " << outcome.status << ", " << outcome.stderr_text;
  EXPECT_EQ(WTERMSIG(outcome.status), SIGTERM);
  EXPECT_TRUE(listing().empty());
  EXPECT_EQ(outcome.stderr_text, "loom_tests: interrupted while writing '" + path("new.bin") +
                                     "': the unfinished copy was removed, no file was written\n");
}

// An ignored signal stays ignored (nohup), and a program's own handler stays in charge: the write goes on and then
// fails on the file-size limit, as it would without the signal.
TEST_F(AtomicFileSignal, IgnoredSignalsAndProgramHandlersAreKept) {
  static volatile sig_atomic_t handled = 0;
  for (bool ignore : {true, false}) {
    SCOPED_TRACE(ignore ? "ignored" : "own handler");
    const Outcome outcome = run_child(SIGTERM, [&] {
      struct sigaction own {};
      own.sa_handler = ignore ? SIG_IGN : +[](int) { handled = 1; };
      sigaction(SIGTERM, &own, nullptr);
      try {
        write_file_atomically(path("out.bin"), std::string(100000, 'n'));
        return 4;
      } catch (const Error&) {
      }
      struct sigaction after {};
      sigaction(SIGTERM, nullptr, &after);
      if (after.sa_handler != own.sa_handler) return 5;
      return ignore || handled ? 0 : 6;
    });
    ASSERT_TRUE(WIFEXITED(outcome.status)) << "status " << outcome.status << ", " << outcome.stderr_text;
    EXPECT_EQ(WEXITSTATUS(outcome.status), 0);
    EXPECT_TRUE(listing().empty());
  }
}

TEST_F(AtomicFile, DefaultSignalActionsAreBackAfterAWrite) {
  // Default actions for the test (a background job starts with SIGINT ignored), and the caller's back after it.
  const int signals[] = {SIGINT, SIGTERM, SIGHUP};
  struct sigaction callers[3] = {}, default_action{};
  default_action.sa_handler = SIG_DFL;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(sigaction(signals[i], &default_action, &callers[i]), 0);
  write_file_atomically(path("out.txt"), "x");
  for (int i = 0; i < 3; ++i) {
    struct sigaction after {};
    ASSERT_EQ(sigaction(signals[i], &callers[i], &after), 0);
    EXPECT_EQ(after.sa_handler, SIG_DFL) << strsignal(signals[i]);
  }
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
