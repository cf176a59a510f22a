// Writing a whole file so that readers, and a crash halfway, see either the old file or the complete new one.
#pragma once

#include <string>

namespace loom {

// Replaces `path` with `contents`: the bytes go to a new file beside it (so the final rename stays within one file
// system), are flushed to disk, and only then renamed over `path`. On any failure the new file is removed, a
// previous `path` is left as it was, and loom::Error says `cannot write '<path>': <reason>` on one line.
// The new file gets the permissions a freshly created file would (0666 less the umask), not those of an old `path`.
void write_file_atomically(const std::string& path, const std::string& contents);

// Checks, before a run, that write_file_atomically could write `path` at its end: not an existing directory or
// other non-regular file, and a folder that exists and may be written. A loom::UsageError otherwise, e.g.
// "<what> 'runs/m.safetensors': cannot write into 'runs/': No such file or directory".
void check_writable_path(const std::string& path, const std::string& what);

}  // namespace loom
