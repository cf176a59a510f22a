#include "apps/standard_output.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "engine/runtime/errors.h"

namespace loom::apps {
namespace {

bool stdout_was_closed = false;

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

}  // namespace

void guard_standard_streams() {
  for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; ++fd) {
    if (is_open(fd)) continue;
    if (fd == STDOUT_FILENO) stdout_was_closed = true;
    // open() takes the lowest free descriptor: this one, as the lower ones are open by now.
    const int opened = ::open("/dev/null", O_RDONLY);
    if (opened != fd && opened >= 0) ::close(opened);
  }
}

void check_standard_output() {
  std::cout.flush();
  const bool failed = std::fflush(stdout) != 0 || std::ferror(stdout) || !std::cout.good();
  if (!failed) return;
  std::string reason = "a write failed";
  if (stdout_was_closed) {
    reason = "it is closed";
  } else if (::write(STDOUT_FILENO, "\n", 1) < 0) {
    // stdio does not keep the failed write's errno: a one-byte write (after output already lost) asks again.
    reason = std::strerror(errno);
  }
  std::clearerr(stdout);
  std::cout.clear();
  throw Error("cannot write to standard output: " + reason);
}

}  // namespace loom::apps
