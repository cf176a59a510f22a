// Opening a file a user named, for reading. Every reader of such files (IDX data by path, gzip or raw; safetensors,
// and so saved models and checkpoints; history files; pictures) opens it here, so they all refuse the same things in
// the same words, and none of them can block on a FIFO or open a device.
//
// One rule for the error's type, and so for the apps' exit code:
//   loom::UsageError (exit 2): the path leads to no file to read, and only another command line can help: nothing
//     has that name ("no such file"; also when a name on the way is a file, not a folder), or it names something
//     that is not a regular file ("is a directory, not a file", "is a FIFO, not a file", a character or block
//     device, a socket).
//   loom::Error (exit 1): a file is there but cannot be read: "cannot read: Permission denied", "cannot read: Too
//     many levels of symbolic links", an I/O error, no descriptor left, ...; and, from the readers, everything that
//     is wrong inside the file.
// Each message is one line, `label` (which names the file, e.g. "picture 'cat.png'") then ": " and the problem.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <string>

namespace loom {

// "a directory", "a FIFO", "a character device", "a block device", "a socket"; "not a regular file" for anything else.
const char* file_kind(mode_t mode);

// An open, regular file; closes its descriptor when destroyed unless release()d.
class InputFile {
 public:
  // Opens `path` for reading. It is looked at before it is opened, so a device is never opened (that can have
  // effects) and a FIFO is never waited on; it is opened with O_NONBLOCK and looked at again through the descriptor,
  // in case the path changed in between, and O_NONBLOCK is cleared once it is known to be a regular file.
  InputFile(const std::string& path, std::string label);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  int fd() const { return fd_; }
  // The file's status when it was opened (size, times).
  const struct stat& status() const { return status_; }
  const std::string& label() const { return label_; }
  // Hands the descriptor over (to fdopen, gzdopen): this object no longer closes it.
  int release();

  // Reads up to `bytes` bytes, fewer only at the end of the file; loom::Error "<label>: cannot read: <reason>".
  size_t read(void* out, size_t bytes);
  // The rest of the file, at most `max_bytes` + 1 bytes of it: more than `max_bytes` tells the caller, who words
  // the limit, that the file is larger than it accepts, without reading a wrong path (a data set) whole.
  std::string read_all(size_t max_bytes);

  // loom::Error "<label>: cannot read: <strerror(error)>".
  [[noreturn]] void fail_read(int error) const;

 private:
  int fd_ = -1;
  std::string label_;
  struct stat status_ {};
};

}  // namespace loom
