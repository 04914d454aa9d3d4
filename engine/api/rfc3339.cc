// RFC 3339 §5.6 grammar, checked field by field; calendar arithmetic from Howard Hinnant's
// days_from_civil (proleptic Gregorian, exact for every year RFC 3339 can write).
#include "engine/api/rfc3339.h"

namespace ringpost::api {
namespace {

// `n` decimal digits at s[pos], or -1.
int digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace

tl::expected<int64_t, std::string_view> parse_rfc3339(std::string_view s) {
  const auto fail = [](std::string_view why) { return tl::make_unexpected(why); };
  constexpr std::string_view kShape = "must be an RFC 3339 time such as \"2026-11-26T08:00:00Z\"";
  // YYYY-MM-DDThh:mm:ss is 19 characters, then [.frac] and Z or ±hh:mm.
  const int year = digits(s, 0, 4), month = digits(s, 5, 2), day = digits(s, 8, 2);
  const int hour = digits(s, 11, 2), minute = digits(s, 14, 2), second = digits(s, 17, 2);
  if (s.size() < 20 || year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0 || s[4] != '-' ||
      s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':') {
    return fail(kShape);
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return fail("date is not a calendar date");
  if (hour > 23 || minute > 59 || second > 60) return fail("time of day is out of range");
  std::size_t pos = 19;
  int millis = 0;
  if (s[pos] == '.') {
    const std::size_t start = ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (pos - start < 3) millis = millis * 10 + (s[pos] - '0');
      ++pos;
    }
    if (pos == start) return fail("fractional seconds need at least one digit after '.'");
    for (std::size_t k = pos - start; k < 3; ++k) millis *= 10;
  }
  int offset_minutes = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const int oh = digits(s, pos + 1, 2), om = digits(s, pos + 4, 2);
    if (oh < 0 || om < 0 || s[pos + 3] != ':') return fail("time offset must be Z or +hh:mm / -hh:mm");
    if (oh > 23 || om > 59) return fail("time offset is out of range");
    // "-00:00" means "offset unknown" (RFC 3339 §4.3); the time is then UTC, which is 0 too.
    offset_minutes = (s[pos] == '+' ? 1 : -1) * (oh * 60 + om);
    pos += 6;
  } else {
    return fail("time needs an offset: Z for UTC, or +hh:mm / -hh:mm");
  }
  if (pos != s.size()) return fail(kShape);
  const int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - int64_t{offset_minutes} * 60;
  return seconds * 1000 + millis;
}

}  // namespace ringpost::api
