#include "engine/io/atomic_file.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "engine/io/file_text.h"
#include "engine/runtime/errors.h"

namespace loom {

namespace {

[[noreturn]] void fail(const std::string& path, int error) {
  throw Error("cannot write '" + one_line(path) + "': " + std::strerror(error));
}

// The umask can only be read by setting it, which would race with other threads creating files; Linux reports it
// in /proc instead. Without /proc, the common default stands in.
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
  const size_t slash = path.find_last_of('/');
  const std::string folder = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  while (::fsync(fd) != 0 && errno == EINTR) {
  }
  ::close(fd);
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& contents) {
  // Beside `path`, so the rename never crosses a file system and is atomic.
  std::string temp_name = path + ".tmp.XXXXXX";
  std::vector<char> temp(temp_name.begin(), temp_name.end());
  temp.push_back('\0');
  const int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) fail(path, errno);
  temp_name.assign(temp.data());

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
  if (::rename(temp_name.c_str(), path.c_str()) != 0) abandon(errno, false);
  sync_parent_folder(path);
}

void check_writable_path(const std::string& path, const std::string& what) {
  struct stat status {};
  if (stat(path.c_str(), &status) == 0 && !S_ISREG(status.st_mode))
    throw UsageError(what + " '" + one_line(path) + "' exists and is not a regular file");
  std::string folder = path.substr(0, path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  if (folder.empty()) folder = ".";
  if (access(folder.c_str(), W_OK | X_OK) != 0)
    throw UsageError(what + " '" + one_line(path) + "': cannot write into '" + one_line(folder) + "': " +
                     std::strerror(errno));
}

}  // namespace loom
