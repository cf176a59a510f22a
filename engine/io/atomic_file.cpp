#include "engine/io/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

#include "engine/io/file_text.h"
#include "engine/io/input_file.h"
#include "engine/runtime/errors.h"

namespace loom {

namespace {

[[noreturn]] void fail(const std::string& path, int error) {
  throw Error("cannot write '" + one_line(path) + "': " + std::strerror(error));
}

// Whether `path` exists, following symbolic links; a loom::Error when it exists and is not a regular file. A rename
// would replace a device node, a FIFO or a socket with a plain file (as root, `/dev/null` itself), so loom writes
// regular files only.
bool require_regular_or_absent(const std::string& path) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) return false;
  if (S_ISREG(status.st_mode)) return true;
  throw Error("cannot write '" + one_line(path) + "': it is " + file_kind(status.st_mode) + ", not a regular file");
}

// The folder part of `path` with its trailing slash ("" for a bare name).
std::string folder_part(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

// The longest file name the folder's file system takes: 255 bytes on the common ones, some take fewer.
long name_max(const std::string& folder) {
  const long limit = ::pathconf(folder.empty() ? "." : folder.c_str(), _PC_NAME_MAX);
  return limit > 0 ? limit : NAME_MAX;
}

constexpr char kTempSuffix[] = ".tmp.XXXXXX";
constexpr size_t kTempSuffixBytes = sizeof kTempSuffix - 1;

// `<name>.tmp.XXXXXX` beside `path`, the name cut short where a long (but legal) name would otherwise make the
// temporary one too long to create; cut at a character boundary, so a UTF-8 name stays readable.
std::string temporary_template(const std::string& path) {
  const std::string folder = folder_part(path);
  std::string name = path.substr(folder.size());
  const long limit = name_max(folder);
  const size_t room = limit > static_cast<long>(kTempSuffixBytes) ? static_cast<size_t>(limit) - kTempSuffixBytes : 0;
  if (name.size() > room) {
    size_t cut = room;
    while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
    name.resize(cut);
  }
  return folder + name + kTempSuffix;
}

// The current umask can only be read by setting it, which would race with other threads creating files; Linux
// reports it in /proc instead. Without /proc, the common default stands in.
mode_t current_umask() {
  FILE* status = fopen("/proc/self/status", "re");
  if (status == nullptr) return 022;
  unsigned mask = 022;
  char line[256];
  while (fgets(line, sizeof line, status) != nullptr) {
    if (sscanf(line, "Umask: %o", &mask) == 1) break;
  }
  fclose(status);
  return static_cast<mode_t>(mask & 0777);
}

bool write_all(int fd, const std::string& contents) {
  const char* data = contents.data();
  size_t left = contents.size();
  while (left > 0) {
    ssize_t written = ::write(fd, data, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    // A short write (signal, quota, nearly full disk) is not an error yet: the next call says what went wrong.
    data += written;
    left -= static_cast<size_t>(written);
  }
  return true;
}

// Makes the rename itself survive a power cut. Some file systems refuse to fsync a directory; the file is already
// in place by then, so that is not worth failing the write for.
void sync_parent_folder(const std::string& path) {
  const std::string folder = folder_part(path);
  const std::string name = folder.empty() ? "." : folder.size() == 1 ? "/" : folder.substr(0, folder.size() - 1);
  const int fd = ::open(name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  while (::fsync(fd) != 0 && errno == EINTR) {
  }
  ::close(fd);
}

// Removing the temporary file when SIGINT, SIGTERM or SIGHUP ends the program mid-write (Ctrl-C during a
// checkpoint, a job scheduler's SIGTERM), so nothing is left behind. A signal handler may only use what is
// async-signal-safe: the temporary name and the message are laid out in static buffers before the file exists,
// and the handler calls unlink, write and raise only.
//
// One write at a time owns these buffers (loom writes from its main thread). Should two threads write at once, the
// second one's temporary file is not covered: a signal during it may leave it behind, as kill -9 would; its data
// and the previous file are safe either way.
constexpr int kCleanedUpSignals[] = {SIGINT, SIGTERM, SIGHUP};
constexpr size_t kSignals = sizeof kCleanedUpSignals / sizeof kCleanedUpSignals[0];

std::atomic_flag cleanup_owned = ATOMIC_FLAG_INIT;
// Set once mkostemp has filled in the name, cleared before the buffers are reused; atomic (and lock-free, so a
// handler may read it) because the signal may be handled on any thread, one of the CPU pool's for one.
std::atomic<int> cleanup_armed{0};
static_assert(std::atomic<int>::is_always_lock_free);
char cleanup_temp_name[PATH_MAX];
char cleanup_message[2 * PATH_MAX + 256];
size_t cleanup_message_bytes = 0;

extern "C" void remove_temporary_and_die(int signal_number) {
  const int saved_errno = errno;
  // The file exists only between mkostemp and the rename; outside that, unlink finds nothing and nothing is said.
  if (cleanup_armed.load(std::memory_order_acquire) != 0 && ::unlink(cleanup_temp_name) == 0) {
    if (::write(STDERR_FILENO, cleanup_message, cleanup_message_bytes) < 0) {
    }
  }
  // SA_RESETHAND put the default back on entry: raised again once this returns, the signal ends the program, and
  // its exit status still names the signal.
  errno = saved_errno;
  ::raise(signal_number);
}

// Installed for the length of one write, only where a signal has its default action: an ignored signal stays
// ignored (nohup), and a program's own handler (one that stops training after the epoch) is left in charge.
class TemporaryFileCleanup {
 public:
  // `temp_name` must fit the buffer (the caller checked); `had_previous` chooses what the message says was kept.
  TemporaryFileCleanup(const std::string& path, const std::string& temp_name, bool had_previous) {
    if (cleanup_owned.test_and_set()) return;
    owner_ = true;
    std::memcpy(cleanup_temp_name, temp_name.c_str(), temp_name.size() + 1);
    // Short enough that the message fits its buffer even with every byte spelled out (\xff).
    const std::string shown = one_line(path, 1024);
    const std::string message =
        std::string(program_invocation_short_name) + ": interrupted while writing '" + shown +
        "': the unfinished copy was removed, " +
        (had_previous ? "the previous '" + shown + "' is kept as it was" : "no file was written") + "\n";
    cleanup_message_bytes = std::min(message.size(), sizeof cleanup_message);
    std::memcpy(cleanup_message, message.data(), cleanup_message_bytes);

    struct sigaction action {};
    action.sa_handler = remove_temporary_and_die;
    sigemptyset(&action.sa_mask);
    for (int signal_number : kCleanedUpSignals) sigaddset(&action.sa_mask, signal_number);
    action.sa_flags = SA_RESETHAND;
    for (size_t i = 0; i < kSignals; ++i) {
      struct sigaction current {};
      if (::sigaction(kCleanedUpSignals[i], nullptr, &current) != 0) continue;
      if ((current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_DFL) continue;
      installed_[i] = ::sigaction(kCleanedUpSignals[i], &action, &previous_[i]) == 0;
    }
  }
  // The name mkostemp chose, filled in place of the X's.
  char* temp_name() { return owner_ ? cleanup_temp_name : nullptr; }
  // From now on a signal removes the file: called once mkostemp has created it and written its name, so a handler
  // never unlinks the template (or, half filled in, someone else's file).
  void arm() {
    if (owner_) cleanup_armed.store(1, std::memory_order_release);
  }
  bool owner() const { return owner_; }

  ~TemporaryFileCleanup() {
    if (!owner_) return;
    for (size_t i = 0; i < kSignals; ++i)
      if (installed_[i]) ::sigaction(kCleanedUpSignals[i], &previous_[i], nullptr);
    cleanup_armed.store(0, std::memory_order_release);
    cleanup_owned.clear();
  }
  TemporaryFileCleanup(const TemporaryFileCleanup&) = delete;
  TemporaryFileCleanup& operator=(const TemporaryFileCleanup&) = delete;

 private:
  bool owner_ = false;
  bool installed_[kSignals] = {};
  struct sigaction previous_[kSignals] = {};
};

}  // namespace

void write_file_atomically(const std::string& path, const std::string& contents) {
  const bool had_previous = require_regular_or_absent(path);
  // Beside `path`, so the rename never crosses a file system and is atomic.
  std::string temp_name = temporary_template(path);
  if (temp_name.size() >= PATH_MAX) fail(path, ENAMETOOLONG);
  TemporaryFileCleanup cleanup(path, temp_name, had_previous);
  // The signal handler reads the name from its static buffer, so mkostemp fills that one in when this write owns it.
  std::vector<char> own_buffer;
  char* name = cleanup.temp_name();
  if (name == nullptr) {
    own_buffer.assign(temp_name.c_str(), temp_name.c_str() + temp_name.size() + 1);
    name = own_buffer.data();
  }
  const int fd = ::mkostemp(name, O_CLOEXEC);
  if (fd < 0) fail(path, errno);
  cleanup.arm();
  temp_name.assign(name);

  auto abandon = [&](int error, bool still_open) {
    if (still_open) ::close(fd);
    ::unlink(temp_name.c_str());
    fail(path, error);
  };

  // mkstemp creates the file private to its owner; a report or checkpoint should be as readable as any other file.
  if (::fchmod(fd, 0666 & ~current_umask()) != 0) abandon(errno, true);
  if (!write_all(fd, contents)) abandon(errno, true);
  // Without this, a crash soon after the rename can leave `path` empty on disk (ext4's delayed allocation).
  while (::fsync(fd) != 0) {
    if (errno != EINTR) abandon(errno, true);
  }
  // Linux releases the descriptor even when close reports EINTR, and the data is already on disk after fsync, so
  // only other errors (EIO from NFS, for one) mean the file may be incomplete.
  if (::close(fd) != 0 && errno != EINTR) abandon(errno, false);
  // Again, now that the write took its time: a special file that appeared meanwhile is refused, not replaced.
  try {
    require_regular_or_absent(path);
  } catch (const Error&) {
    ::unlink(temp_name.c_str());
    throw;
  }
  if (::rename(temp_name.c_str(), path.c_str()) != 0) abandon(errno, false);
  sync_parent_folder(path);
}

void check_writable_path(const std::string& path, const std::string& what) {
  struct stat status {};
  if (stat(path.c_str(), &status) == 0 && !S_ISREG(status.st_mode))
    throw UsageError(what + " '" + one_line(path) + "' exists and is not a regular file");
  // Before the folder is looked at, which would fail with "File name too long" and not say why.
  if (temporary_template(path).size() >= PATH_MAX)
    throw UsageError(what + " '" + one_line(path, kShownBytes) + "': the path is too long (with the temporary name " +
                     "written beside it, " + std::to_string(PATH_MAX) + " bytes or more)");
  std::string folder = folder_part(path);
  if (folder.empty()) folder = ".";
  if (access(folder.c_str(), W_OK | X_OK) != 0)
    throw UsageError(what + " '" + one_line(path) + "': cannot write into '" + one_line(folder) +
                     "': " + std::strerror(errno));
  // Found now rather than when the run is over and its results are written.
  const size_t name_bytes = path.size() - folder_part(path).size();
  const long limit = name_max(folder);
  if (name_bytes > static_cast<size_t>(limit))
    throw UsageError(what + " '" + one_line(path) + "': the file name is " + std::to_string(name_bytes) +
                     " bytes long, longer than the " + std::to_string(limit) + " bytes '" + one_line(folder) +
                     "' allows for a name");
}

}  // namespace loom
