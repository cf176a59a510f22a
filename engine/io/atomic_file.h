// Writing a whole file so that readers, and a crash halfway, see either the old file or the complete new one.
#pragma once

#include <string>

namespace loom {

// Replaces `path` with `contents`: the bytes go to a new file beside it (so the final rename stays within one file
// system), are flushed to disk, and only then renamed over `path`. On any failure the new file is removed, a
// previous `path` is left as it was, and loom::Error says `cannot write '<path>': <reason>` on one line.
// Regular files only: when `path` (followed through symbolic links) is a directory, a device, a FIFO or a socket,
// nothing is created or renamed and the reason says what it is ("it is a character device, not a regular file").
// The new file gets the permissions a freshly created file would (0666 less the umask), not those of an old `path`.
// The new file is named `<name>.tmp.XXXXXX`, with `<name>` shortened where needed so the name fits the folder's
// limit. While it exists, SIGINT, SIGTERM and SIGHUP (where they have their default action) remove it, print one
// line saying what was kept, and end the program by the same signal; the previous handlers are back afterwards.
void write_file_atomically(const std::string& path, const std::string& contents);

// Checks, before a run, that write_file_atomically could write `path` at its end: not an existing directory or
// other non-regular file, a folder that exists and may be written, and a name no longer than that folder's file
// system allows. A loom::UsageError otherwise, e.g.
// "<what> 'runs/m.safetensors': cannot write into 'runs/': No such file or directory".
void check_writable_path(const std::string& path, const std::string& what);

}  // namespace loom
