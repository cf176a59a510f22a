// Text that goes into the report's HTML and SVG: escaping of every string that comes from the user or a file, and
// images as data URIs, so the page is one self-contained file.
#pragma once

#include <string>
#include <string_view>

namespace loom::report {

// `text` made safe as HTML/XML text or a quoted attribute value: & < > " ' escaped, and whatever one_line
// (engine/io/file_text.h) would spell out — control characters, line separators, malformed UTF-8 — spelled out the
// same way, so a file name with a newline or stray bytes shows on one line as it does in error messages.
std::string html_escape(std::string_view text);

// The same for text of several lines (a model summary for a <pre>): each line escaped, the newlines kept.
std::string html_escape_lines(std::string_view text);

// RFC 4648 base64 with padding.
std::string base64(std::string_view bytes);

// "data:image/png;base64,..." for PNG file bytes.
std::string png_data_uri(std::string_view png_bytes);

}  // namespace loom::report
