// See table.h.
#include "engine/ops/ctl/table.h"

#include <algorithm>

namespace ringpost::ctl {

std::size_t display_width(std::string_view s) {
  // Continuation bytes (10xxxxxx) do not start a code point.
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

namespace {

void pad_to(std::string& out, std::string_view cell, std::size_t width, bool right) {
  const std::size_t fill = width - std::min(width, display_width(cell));
  if (right) out.append(fill, ' ');
  out += cell;
  if (!right) out.append(fill, ' ');
}

void trim_trailing_blanks(std::string& line) {
  while (!line.empty() && line.back() == ' ') line.pop_back();
}

}  // namespace

std::string render_table(const Row& header, const std::vector<Row>& rows, const std::vector<std::size_t>& right) {
  std::vector<std::size_t> widths(header.size(), 0);
  auto measure = [&](const Row& r) {
    for (std::size_t i = 0; i < widths.size() && i < r.size(); ++i) widths[i] = std::max(widths[i], display_width(r[i]));
  };
  measure(header);
  for (const Row& r : rows) measure(r);
  std::string out;
  auto emit = [&](const Row& r) {
    std::string line;
    for (std::size_t i = 0; i < widths.size(); ++i) {
      if (i) line += "  ";
      const bool is_right = std::find(right.begin(), right.end(), i) != right.end();
      pad_to(line, i < r.size() ? std::string_view(r[i]) : std::string_view(), widths[i], is_right);
    }
    trim_trailing_blanks(line);
    out += line;
    out += '\n';
  };
  emit(header);
  for (const Row& r : rows) emit(r);
  return out;
}

std::string render_fields(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::size_t width = 0;
  for (const auto& [k, v] : fields) width = std::max(width, display_width(k));
  std::string out;
  for (const auto& [k, v] : fields) {
    std::string line;
    pad_to(line, k, width, false);
    line += "  ";
    line += v;
    trim_trailing_blanks(line);
    out += line;
    out += '\n';
  }
  return out;
}

}  // namespace ringpost::ctl
