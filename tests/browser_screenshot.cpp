#include "browser_screenshot.h"

#include <fcntl.h>
#include <png.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace loom::test {
namespace {

constexpr int kTimeoutSeconds = 120;
constexpr int kNearWhite = 240;  // light table headers (#f2f2f2, #f7f7f7) are paper, their borders (#ddd) are ink

bool is_executable_file(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) && access(path.c_str(), X_OK) == 0;
}

std::string on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (is_executable_file(candidate)) return candidate;
  }
  return "";
}

// A file URL Chromium reads back as the same path, whatever characters the temporary folder's name has.
std::string file_url(const std::string& path) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string url = "file://";
  for (const unsigned char c : std::filesystem::absolute(path).lexically_normal().string()) {
    if (std::isalnum(c) || std::strchr("/-._~", c)) {
      url += static_cast<char>(c);
    } else {
      url += '%';
      url += kHex[c >> 4];
      url += kHex[c & 15];
    }
  }
  return url;
}

std::string last_line_of(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  if (last.size() > 300) last = last.substr(0, 300) + "...";
  return last.empty() ? "(empty)" : last;
}

std::string exit_description(int status) {
  if (WIFEXITED(status)) {
    if (WEXITSTATUS(status) == 124) return "timed out after " + std::to_string(kTimeoutSeconds) + " s";
    return "exit status " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// Runs argv with stderr written to `log`, and stdout too unless `out` names a file of its own; the wait status.
int run_logged(const std::vector<std::string>& argv, const std::string& log, const std::string& out = "") {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out.empty())
    posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  else
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) throw std::runtime_error("cannot run '" + argv[0] + "': " + std::strerror(spawned));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::runtime_error(std::string("waiting for Chromium failed: ") + std::strerror(errno));
  return status;
}

// Opens file `html_path` in headless `chromium` with a window of `width` × `height` pixels (scale 1, no scroll bars)
// and one action flag (--screenshot=..., --dump-dom), stderr to `log` and stdout to `out` (or `log` if empty). A
// profile of its own, so a browser left running elsewhere (or an earlier crash's lock) cannot take the job. The wait
// status.
int run_chromium(const std::string& chromium, const std::string& html_path, int width, int height,
                 const std::string& action, const std::string& log, const std::string& out = "") {
  std::string profile = (std::filesystem::temp_directory_path() / "loom_chromium_XXXXXX").string();
  if (!mkdtemp(profile.data()))
    throw std::runtime_error("cannot make a Chromium profile folder: " + std::string(std::strerror(errno)));
  const std::vector<std::string> argv = {"timeout",
                                         "-k",
                                         "10",
                                         std::to_string(kTimeoutSeconds),
                                         chromium,
                                         "--headless",
                                         "--no-sandbox",
                                         "--disable-gpu",
                                         "--hide-scrollbars",
                                         "--force-device-scale-factor=1",
                                         "--user-data-dir=" + profile,
                                         action,
                                         "--window-size=" + std::to_string(width) + "," + std::to_string(height),
                                         file_url(html_path)};
  std::error_code ignored;
  int status = 0;
  try {
    status = run_logged(argv, log, out);
  } catch (...) {
    std::filesystem::remove_all(profile, ignored);
    throw;
  }
  std::filesystem::remove_all(profile, ignored);
  return status;
}

// Saturated, not a tint: a table cell shaded by a small share, or a line's anti-aliased edge, does not count.
bool strong_red(int r, int g, int b) { return r >= 160 && g <= 100 && b <= 100 && r - std::max(g, b) >= 100; }
bool strong_blue(int r, int g, int b) { return b >= 140 && r <= 100 && b - r >= 90 && b - g >= 40; }

}  // namespace

std::string find_chromium() {
  if (const char* chosen = std::getenv("LOOM_CHROMIUM"); chosen && *chosen) return chosen;
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"})
    if (std::string found = on_path(name); !found.empty()) return found;
  return "";
}

double render_screenshot(const std::string& chromium, const std::string& html_path, const std::string& png_path,
                         int width, int height) {
  const std::string log = png_path + ".log";
  std::error_code ignored;
  std::filesystem::remove(png_path, ignored);  // a picture left from an earlier run must not pass for this one
  const auto start = std::chrono::steady_clock::now();
  const int status = run_chromium(chromium, html_path, width, height,
                                  "--screenshot=" + std::filesystem::absolute(png_path).string(), log);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  if (!std::filesystem::exists(png_path))
    throw std::runtime_error("Chromium (" + chromium + ") wrote no screenshot of " + html_path + " (" +
                             exit_description(status) + "); its log " + log + " ends: " + last_line_of(log));
  return took.count();
}

std::string dump_dom(const std::string& chromium, const std::string& html_path, int width, int height) {
  const std::string log = html_path + ".log", out = html_path + ".dom";
  const int status = run_chromium(chromium, html_path, width, height, "--dump-dom", log, out);
  std::ifstream in(out, std::ios::binary);
  std::stringstream dom;
  dom << in.rdbuf();
  // Chromium can print a document and still fail (a crash on the way out): only a clean exit is trusted.
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || dom.str().find("<html") == std::string::npos)
    throw std::runtime_error("Chromium (" + chromium + ") printed no document for " + html_path + " (" +
                             exit_description(status) + ", " + std::to_string(dom.str().size()) + " bytes); its log " +
                             log + " ends: " + last_line_of(log));
  return dom.str();
}

ScreenshotStats screenshot_stats(const std::string& png_path) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, png_path.c_str()))
    throw std::runtime_error("cannot read PNG " + png_path + ": " + image.message);
  image.format = PNG_FORMAT_RGB;
  std::vector<png_byte> pixels(PNG_IMAGE_SIZE(image));
  const png_color white{255, 255, 255};
  if (!png_image_finish_read(&image, &white, pixels.data(), 0, nullptr)) {
    const std::string message = image.message;
    png_image_free(&image);
    throw std::runtime_error("cannot decode PNG " + png_path + ": " + message);
  }

  ScreenshotStats stats;
  stats.width = image.width;
  stats.height = image.height;
  std::vector<bool> seen(size_t{1} << 24);
  int64_t ink = 0;
  for (int64_t y = 0; y < stats.height; ++y) {
    const png_byte* row = pixels.data() + static_cast<size_t>(y * stats.width * 3);
    for (int64_t x = 0; x < stats.width; ++x) {
      const int r = row[3 * x], g = row[3 * x + 1], b = row[3 * x + 2];
      const size_t colour = static_cast<size_t>(r) << 16 | static_cast<size_t>(g) << 8 | static_cast<size_t>(b);
      if (!seen[colour]) {
        seen[colour] = true;
        ++stats.distinct_colours;
      }
      if (std::min({r, g, b}) < kNearWhite) {
        ++ink;
        stats.last_ink_row = y;
      }
      stats.red_pixels += strong_red(r, g, b);
      stats.blue_pixels += strong_blue(r, g, b);
    }
  }
  const int64_t total = stats.width * stats.height;
  stats.ink = total ? static_cast<double>(ink) / static_cast<double>(total) : 0;
  return stats;
}

std::string ScreenshotStats::str() const {
  char text[256];
  std::snprintf(text, sizeof text,
                "%lldx%lld pixels, %lld colours, ink %.2f%%, last ink row %lld, red pixels %lld, blue pixels %lld",
                static_cast<long long>(width), static_cast<long long>(height), static_cast<long long>(distinct_colours),
                100 * ink, static_cast<long long>(last_ink_row), static_cast<long long>(red_pixels),
                static_cast<long long>(blue_pixels));
  return text;
}

std::string screenshot_problem(const ScreenshotStats& stats, int width, int height) {
  if (stats.width != width || stats.height != height)
    return "the screenshot is " + std::to_string(stats.width) + "x" + std::to_string(stats.height) + ", not the " +
           std::to_string(width) + "x" + std::to_string(height) + " window asked for";
  if (stats.ink < 0.01) return "less than 1% of the screenshot is drawn: the page looks blank";
  if (stats.distinct_colours < 64)
    return "only " + std::to_string(stats.distinct_colours) + " distinct colours: no pictures or charts were drawn";
  if (stats.red_pixels < 16) return "no strong red: wrong predictions and predicted bars are missing";
  if (stats.blue_pixels < 16) return "no strong blue: right predictions, true-class bars and the first run are missing";
  return "";
}

}  // namespace loom::test
