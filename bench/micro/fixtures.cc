// Inputs shared by several benchmarks; see micro.h.
#include "bench/micro/micro.h"

namespace ringpost::bench {

std::string rendered_message(std::size_t bytes) {
  std::string m =
      "From: Alice <alice@example.test>\r\nTo: bob@dest.test\r\nSubject: Your November statement\r\n"
      "Date: Tue, 25 Nov 2025 19:08:07 +0000\r\nMessage-ID: <01M8A1QARMMN7GJ7ZYR0YJMVPT@mta.example.test>\r\n"
      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
      // One leading dot so the stuffing branch is taken at least once, as in real mail
      // (signatures, ASCII art); more would flatter nothing and misrepresent typical bodies.
      ".signature-like line that must be dot-stuffed\r\n";
  const std::string line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod te=\r\n";
  while (m.size() + line.size() + 2 <= bytes) m += line;
  if (m.size() + 2 < bytes) m.append(bytes - m.size() - 2, 'x');
  m += "\r\n";
  return m;
}

std::string plain_text(std::size_t bytes, bool utf8) {
  const std::string line = utf8 ? "Grüße aus Köln, déjà vu: naïve café prices rose 3 % this year.\n"
                                : "Hello Bob, your November statement is ready; the total is 42.00 EUR.\n";
  std::string t;
  while (t.size() + line.size() <= bytes) t += line;
  t.append(bytes - t.size(), 'x');
  return t;
}

}  // namespace ringpost::bench
