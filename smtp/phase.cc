// See phase.h.
#include "smtp/phase.h"

namespace ringpost::smtp {

std::string_view to_string(Phase p) {
  switch (p) {
    case Phase::none: return "none";
    case Phase::greeting: return "greeting";
    case Phase::ehlo: return "EHLO";
    case Phase::helo: return "HELO";
    case Phase::starttls: return "STARTTLS";
    case Phase::mail: return "MAIL";
    case Phase::rcpt: return "RCPT";
    case Phase::data: return "DATA";
    case Phase::bdat: return "BDAT";
    case Phase::data_end: return "end of data";
    case Phase::rset: return "RSET";
    case Phase::quit: return "QUIT";
  }
  return "unknown";
}

std::chrono::seconds default_timeout(Phase p) {
  using std::chrono::minutes;
  switch (p) {
    case Phase::none: return std::chrono::seconds{0};
    case Phase::data: return minutes{2};
    case Phase::bdat:
    case Phase::data_end: return minutes{10};
    case Phase::greeting:
    case Phase::ehlo:
    case Phase::helo:
    case Phase::starttls:
    case Phase::mail:
    case Phase::rcpt:
    case Phase::rset:
    case Phase::quit: return minutes{5};
  }
  return minutes{5};
}

}  // namespace ringpost::smtp
