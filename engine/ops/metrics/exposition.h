// Writes the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): one `# HELP` and `# TYPE`
// per family, then its samples. Sans-IO and single-threaded: the caller collects the numbers
// and this only spells them. Label values are escaped here, so any site or key name is safe.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "engine/ops/metrics/histogram.h"

namespace ringpost::engine {

struct Label {
  std::string_view name;
  std::string_view value;
};

class Exposition {
 public:
  // The media type a scraper expects for this format.
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

  // type: "counter", "gauge" or "histogram". Samples written after this belong to it.
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, std::initializer_list<Label> labels, uint64_t value);
  void sample(std::string_view name, std::initializer_list<Label> labels, double value);
  // name_bucket{...,le="..."} (cumulative, ending with +Inf), name_sum, name_count.
  void histogram(std::string_view name, std::initializer_list<Label> labels, const Histogram& h);

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void begin_sample(std::string_view name, std::string_view suffix, std::initializer_list<Label> labels,
                    const Label* extra = nullptr);

  std::string out_;
};

// Label values escape \, " and newline; HELP text escapes \ and newline.
void append_escaped(std::string& out, std::string_view s, bool quote_too);
// A sample value: integers without an exponent, others shortest round-trip, "+Inf" for infinity.
std::string format_value(double v);

}  // namespace ringpost::engine
