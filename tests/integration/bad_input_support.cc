// See bad_input_support.h.
#include "tests/integration/bad_input_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "tests/integration/ringpost_api.h"

namespace ringpost::it {

std::string good_message(std::string_view rcpt) { return message_with_text(rcpt, "fine"); }

std::string message_with_text(std::string_view rcpt, std::string_view text) {
  return fmt::format(R"({{"from":"agent@example.test","to":[{}],"subject":"bad-input","text":{}}})", json_quote(rcpt),
                     json_quote(text));
}

std::string batch_of(const std::vector<std::string>& items) {
  std::string out = R"({"messages":[)";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  return out + "]}";
}

std::string id_of(std::string_view body) {
  simdjson::dom::parser p;
  std::string_view id;
  if (p.parse(body.data(), body.size())["id"].get(id)) return {};
  return std::string(id);
}

std::pair<std::string, int64_t> limit_of(std::string_view body) {
  simdjson::dom::parser p;
  simdjson::dom::element limit;
  std::string_view name;
  int64_t value = 0;
  if (p.parse(body.data(), body.size())["error"]["limit"].get(limit) || limit["name"].get(name) ||
      limit["value"].get(value))
    return {"", -1};
  return {std::string(name), value};
}

void expect_error(const HttpResponse& r, int status, std::string_view code, const char* field) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_NE(r.header("content-type").find("application/json"), std::string::npos) << r.header("content-type");
  EXPECT_EQ(error_code_of(r.body).value_or("(no error.code)"), code) << r.body;
  if (!field) return;
  simdjson::dom::parser p;
  std::string_view got = "(no error.field)";
  if (p.parse(r.body.data(), r.body.size())["error"]["field"].get(got) != simdjson::SUCCESS) got = "(no error.field)";
  EXPECT_EQ(got, field) << r.body;
}

RawConnection::RawConnection(uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ADD_FAILURE() << "connect: " << std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    return;
  }
  timeval tv{30, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConnection::send(std::string_view bytes) {
  while (fd_ >= 0 && !bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return fd_ >= 0;
}

bool RawConnection::fill() {
  if (fd_ < 0) return false;
  char chunk[65536];
  const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
  if (n <= 0) return false;
  buf_.append(chunk, static_cast<std::size_t>(n));
  return true;
}

std::vector<HttpResponse> RawConnection::read_responses(std::size_t n) {
  std::vector<HttpResponse> out;
  while (out.size() < n) {
    const std::size_t head_end = buf_.find("\r\n\r\n");
    if (head_end == std::string::npos) {
      if (!fill()) break;
      continue;
    }
    HttpResponse r;
    std::size_t length = 0;
    std::string_view head(buf_.data(), head_end);
    r.status = std::atoi(std::string(head.substr(9, 3)).c_str());
    for (std::size_t at = head.find("\r\n"); at != std::string_view::npos;) {
      const std::size_t next = head.find("\r\n", at + 2);
      const std::string_view line = head.substr(at + 2, next == std::string_view::npos ? next : next - at - 2);
      at = next;
      const std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string name(line.substr(0, colon));
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (name == "content-length") length = std::stoul(std::string(value));
      r.headers.emplace_back(std::move(name), std::string(value));
    }
    if (buf_.size() < head_end + 4 + length) {
      if (!fill()) break;
      continue;
    }
    r.body = buf_.substr(head_end + 4, length);
    r.server_closes = r.header("connection") == "close";
    buf_.erase(0, head_end + 4 + length);
    out.push_back(std::move(r));
  }
  return out;
}

bool RawConnection::closed_by_server() {
  if (fd_ < 0) return false;
  timeval tv{10, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char chunk[4096];
  for (;;) {
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
    buf_.append(chunk, static_cast<std::size_t>(n));  // more bytes: not closed yet, keep reading
  }
}

}  // namespace ringpost::it
