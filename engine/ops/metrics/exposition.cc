// See exposition.h.
#include "engine/ops/metrics/exposition.h"

#include <cmath>

#include <fmt/format.h>

namespace ringpost::engine {

void append_escaped(std::string& out, std::string_view s, bool quote_too) {
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quote_too) out += "\\\"";
    else out += c;
  }
}

std::string format_value(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  // Whole numbers print without a fraction or exponent; the parser would accept either, but
  // a person reading the page should see 1024, not 1.024e+03.
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

void Exposition::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_escaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void Exposition::begin_sample(std::string_view name, std::string_view suffix, std::initializer_list<Label> labels,
                              const Label* extra) {
  out_ += name;
  out_ += suffix;
  if (labels.size() == 0 && !extra) {
    out_ += ' ';
    return;
  }
  out_ += '{';
  bool first = true;
  auto put = [&](const Label& l) {
    if (!first) out_ += ',';
    first = false;
    out_ += l.name;
    out_ += "=\"";
    append_escaped(out_, l.value, true);
    out_ += '"';
  };
  for (const Label& l : labels) put(l);
  if (extra) put(*extra);
  out_ += "} ";
}

void Exposition::sample(std::string_view name, std::initializer_list<Label> labels, uint64_t value) {
  begin_sample(name, {}, labels);
  fmt::format_to(std::back_inserter(out_), "{}\n", value);
}

void Exposition::sample(std::string_view name, std::initializer_list<Label> labels, double value) {
  begin_sample(name, {}, labels);
  out_ += format_value(value);
  out_ += '\n';
}

void Exposition::histogram(std::string_view name, std::initializer_list<Label> labels, const Histogram& h) {
  uint64_t cumulative = 0;
  const auto& bounds = h.bounds();
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += h.bucket(i);
    const std::string le = i < bounds.size() ? format_value(bounds[i]) : "+Inf";
    const Label le_label{"le", le};
    begin_sample(name, "_bucket", labels, &le_label);
    fmt::format_to(std::back_inserter(out_), "{}\n", cumulative);
  }
  begin_sample(name, "_sum", labels);
  out_ += format_value(h.sum());
  out_ += '\n';
  begin_sample(name, "_count", labels);
  fmt::format_to(std::back_inserter(out_), "{}\n", h.count());
}

}  // namespace ringpost::engine
