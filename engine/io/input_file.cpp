#include "engine/io/input_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "engine/runtime/errors.h"

namespace loom {

namespace {

// Why `path` could not be looked at or opened, under the rule in the header: a name that leads nowhere is the
// command line's fault; anything else (permissions, a symlink loop, the disk) is a failure to read what is there.
[[noreturn]] void fail_open(const std::string& label, int error) {
  if (error == ENOENT) throw UsageError(label + ": no such file");
  if (error == ENOTDIR) throw UsageError(label + ": no such file (a name on its path is a file, not a folder)");
  throw Error(label + ": cannot read: " + std::strerror(error));
}

void require_regular(const std::string& label, const struct stat& status) {
  if (!S_ISREG(status.st_mode)) throw UsageError(label + ": is " + file_kind(status.st_mode) + ", not a file");
}

}  // namespace

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

InputFile::InputFile(const std::string& path, std::string label) : label_(std::move(label)) {
  if (::stat(path.c_str(), &status_) != 0) fail_open(label_, errno);
  require_regular(label_, status_);
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd_ < 0) fail_open(label_, errno);
  try {
    if (::fstat(fd_, &status_) != 0) fail_read(errno);
    require_regular(label_, status_);
    // Regular files ignore O_NONBLOCK today; cleared so that no reader depends on that.
    const int flags = ::fcntl(fd_, F_GETFL);
    if (flags < 0 || ::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK) != 0) fail_read(errno);
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

int InputFile::release() { return std::exchange(fd_, -1); }

void InputFile::fail_read(int error) const { throw Error(label_ + ": cannot read: " + std::strerror(error)); }

size_t InputFile::read(void* out, size_t bytes) {
  size_t got = 0;
  while (got < bytes) {
    const ssize_t n = ::read(fd_, static_cast<char*>(out) + got, bytes - got);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_read(errno);
    }
    got += static_cast<size_t>(n);
  }
  return got;
}

std::string InputFile::read_all(size_t max_bytes) {
  const size_t limit = max_bytes + 1;
  std::string contents;
  // Sized by the status, so a file of a known size is read without copies; a file that grows is read on.
  contents.resize(std::min(static_cast<size_t>(std::max<off_t>(status_.st_size, 0)), max_bytes) + 1);
  size_t got = 0;
  for (;;) {
    if (got == contents.size()) {
      if (got >= limit) break;
      contents.resize(std::min(limit, got + (size_t{1} << 16)));
    }
    const size_t n = read(&contents[got], contents.size() - got);
    got += n;
    if (got < contents.size()) break;
  }
  contents.resize(got);
  return contents;
}

}  // namespace loom
