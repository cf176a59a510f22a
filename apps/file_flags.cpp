#include "apps/file_flags.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "engine/io/file_text.h"
#include "engine/runtime/errors.h"

namespace loom::apps {

CLI::Option* refusing_empty_paths(CLI::Option* option) {
  const std::string flag = option->get_name();
  return option->each([flag](const std::string& value) {
    if (value.empty()) throw UsageError(flag + " is an empty path");
  });
}

CLI::Option* add_path_option(CLI::App& app, const std::string& name, std::string& target, const std::string& help) {
  return refusing_empty_paths(app.add_option(name, target, help));
}

void require_existing_file(const std::string& flag, const std::string& path) {
  struct stat status {};
  if (::stat(path.c_str(), &status) == 0) return;
  // Only a name that leads nowhere is "no file"; a symlink loop or a folder that may not be searched says why.
  if (errno == ENOENT) throw UsageError(flag + ": no file '" + one_line(path) + "'");
  throw Error(flag + ": cannot read '" + one_line(path) + "': " + std::strerror(errno));
}

namespace {

// Where a path's last name lives: the folder it is in (its device and inode, so that "./m", "m", "/abs/m" and a
// path through a symlinked folder agree) and the name itself. A file that does not exist yet has this identity too.
struct FolderEntry {
  dev_t folder_device = 0;
  ino_t folder_inode = 0;
  std::string name;
  bool known = false;
};

FolderEntry folder_entry(const std::string& path) {
  std::string folder = ".", name = path;
  // "runs/" and "runs/." name the folder itself, not an entry in it: such a path is compared as a whole.
  const size_t slash = path.find_last_of('/');
  if (slash != std::string::npos) {
    folder = slash == 0 ? "/" : path.substr(0, slash);
    name = path.substr(slash + 1);
  }
  FolderEntry entry;
  struct stat status {};
  if (name.empty() || name == "." || name == ".." || ::stat(folder.c_str(), &status) != 0) return entry;
  entry = {status.st_dev, status.st_ino, name, true};
  return entry;
}

}  // namespace

bool same_file(const std::string& a, const std::string& b) {
  if (a == b) return true;
  // The same existing file under two names (symlinks, hard links, other spellings).
  struct stat status_a = {};
  struct stat status_b = {};
  if (::stat(a.c_str(), &status_a) == 0 && ::stat(b.c_str(), &status_b) == 0 && status_a.st_dev == status_b.st_dev &&
      status_a.st_ino == status_b.st_ino)
    return true;
  // The same name in the same folder, also when neither exists yet: what a write by rename would replace.
  const FolderEntry entry_a = folder_entry(a), entry_b = folder_entry(b);
  return entry_a.known && entry_b.known && entry_a.folder_device == entry_b.folder_device &&
         entry_a.folder_inode == entry_b.folder_inode && entry_a.name == entry_b.name;
}

}  // namespace loom::apps
