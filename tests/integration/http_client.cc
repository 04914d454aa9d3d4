// HTTP/1.1 request writer and response reader (RFC 9112 §6 message body framing).
#include "tests/integration/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace ringpost::it {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string errno_text(std::string_view what) { return fmt::format("{}: {}", what, std::strerror(errno)); }

// The one read_response() error that request() acts on: the peer closed before sending a
// single byte, i.e. it dropped an idle keep-alive connection.
constexpr std::string_view kEofBeforeResponse = "connection closed before any response byte";

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

HttpClient::HttpClient(uint16_t port, std::chrono::milliseconds timeout) : port_(port), timeout_(timeout) {}

HttpClient::~HttpClient() { close(); }

void HttpClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buf_.clear();
}

tl::expected<void, std::string> HttpClient::connect() {
  close();
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return tl::unexpected(errno_text("socket"));
  timeval tv{};
  tv.tv_sec = timeout_.count() / 1000;
  tv.tv_usec = (timeout_.count() % 1000) * 1000;
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    auto err = errno_text(fmt::format("connect 127.0.0.1:{}", port_));
    close();
    return tl::unexpected(err);
  }
  ++connections_opened_;
  return {};
}

tl::expected<void, std::string> HttpClient::send_all(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return tl::unexpected(std::string("send: timed out"));
      return tl::unexpected(errno_text("send"));
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

tl::expected<bool, std::string> HttpClient::fill(std::size_t n) {
  char chunk[65536];
  while (buf_.size() < n) {
    ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
    if (got == 0) return false;
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return tl::unexpected(fmt::format("recv: no response within {} ms", timeout_.count()));
      return tl::unexpected(errno_text("recv"));
    }
    buf_.append(chunk, static_cast<std::size_t>(got));
  }
  return true;
}

tl::expected<HttpResponse, std::string> HttpClient::request(std::string_view method, std::string_view target,
                                                            std::string_view body, std::string_view content_type) {
  // A keep-alive connection the server closed while idle shows up as EOF before any
  // response byte. GET is idempotent, so retry it once on a fresh connection; a POST is
  // not retried (it might have been accepted) and the error goes to the test.
  const bool reused = fd_ >= 0;
  if (fd_ < 0) {
    if (auto c = connect(); !c) return tl::unexpected(c.error());
  }
  std::string head = fmt::format("{} {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n", method, target, port_);
  if (!content_type.empty()) head += fmt::format("Content-Type: {}\r\n", content_type);
  for (const auto& [name, value] : extra_headers_) head += fmt::format("{}: {}\r\n", name, value);
  if (!body.empty() || method == "POST" || method == "PUT") head += fmt::format("Content-Length: {}\r\n", body.size());
  head += "\r\n";

  auto sent = send_all(head);
  if (sent) sent = send_all(body);
  // A server may answer early (413) and close while we are still sending; its response may
  // be sitting in our receive buffer, so try to read it before reporting the send error.
  auto resp = read_response(method);
  if (!resp) {
    close();
    if (reused && method == "GET" && resp.error() == kEofBeforeResponse) return request(method, target, body, content_type);
    if (!sent) return tl::unexpected(fmt::format("{} (and no response: {})", sent.error(), resp.error()));
    return tl::unexpected(resp.error());
  }
  if (resp->server_closes || !sent) close();
  return resp;
}

tl::expected<HttpResponse, std::string> HttpClient::read_response(std::string_view method) {
  for (;;) {
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      std::size_t before = buf_.size();
      auto more = fill(before + 1);
      if (!more) return tl::unexpected(more.error());
      if (!*more) {
        if (before == 0) return tl::unexpected(std::string(kEofBeforeResponse));
        return tl::unexpected(fmt::format("EOF inside response head: {:?}", buf_.substr(0, 200)));
      }
    }
    std::string_view head(buf_.data(), end);
    HttpResponse resp;
    auto line_end = head.find("\r\n");
    std::string_view status_line = head.substr(0, line_end);
    if (status_line.substr(0, 7) != "HTTP/1." || status_line.size() < 12)
      return tl::unexpected(fmt::format("bad status line: {:?}", std::string(status_line)));
    std::from_chars(status_line.data() + 9, status_line.data() + 12, resp.status);
    bool http10 = status_line.substr(0, 8) == "HTTP/1.0";
    std::string_view rest = line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 2);
    while (!rest.empty()) {
      auto eol = rest.find("\r\n");
      std::string_view line = rest.substr(0, eol);
      rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 2);
      auto colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      resp.headers.emplace_back(lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
    }
    buf_.erase(0, end + 4);
    // 1xx responses are interim (e.g. 100 Continue): the final response follows.
    if (resp.status >= 100 && resp.status < 200) continue;

    std::string conn = lower(resp.header("connection"));
    resp.server_closes = conn == "close" || (http10 && conn != "keep-alive");
    if (method == "HEAD" || resp.status == 204 || resp.status == 304) return resp;

    if (lower(resp.header("transfer-encoding")).find("chunked") != std::string::npos) {
      auto body = read_chunked();
      if (!body) return tl::unexpected(body.error());
      resp.body = std::move(*body);
    } else if (std::string cl = resp.header("content-length"); !cl.empty()) {
      std::size_t len = 0;
      auto [p, ec] = std::from_chars(cl.data(), cl.data() + cl.size(), len);
      if (ec != std::errc()) return tl::unexpected(fmt::format("bad Content-Length {:?}", cl));
      auto more = fill(len);
      if (!more) return tl::unexpected(more.error());
      if (!*more) return tl::unexpected(fmt::format("EOF after {} of {} body bytes (status {})", buf_.size(), len, resp.status));
      resp.body = buf_.substr(0, len);
      buf_.erase(0, len);
    } else {
      // No framing: the body runs to EOF (RFC 9112 §6.3 rule 8).
      for (;;) {
        std::size_t before = buf_.size();
        auto more = fill(before + 1);
        if (!more) return tl::unexpected(more.error());
        if (!*more) break;
      }
      resp.body = std::move(buf_);
      buf_.clear();
      resp.server_closes = true;
    }
    return resp;
  }
}

tl::expected<std::string, std::string> HttpClient::read_chunked() {
  std::string body;
  for (;;) {
    std::size_t eol;
    while ((eol = buf_.find("\r\n")) == std::string::npos) {
      auto more = fill(buf_.size() + 1);
      if (!more) return tl::unexpected(more.error());
      if (!*more) return tl::unexpected(std::string("EOF inside chunk size"));
    }
    std::size_t size = 0;
    auto [p, ec] = std::from_chars(buf_.data(), buf_.data() + eol, size, 16);
    if (ec != std::errc()) return tl::unexpected(fmt::format("bad chunk size {:?}", buf_.substr(0, eol)));
    buf_.erase(0, eol + 2);
    if (size == 0) {
      // Trailer section, ended by an empty line.
      for (;;) {
        while ((eol = buf_.find("\r\n")) == std::string::npos) {
          auto more = fill(buf_.size() + 1);
          if (!more) return tl::unexpected(more.error());
          if (!*more) return tl::unexpected(std::string("EOF inside chunked trailer"));
        }
        bool empty = eol == 0;
        buf_.erase(0, eol + 2);
        if (empty) return body;
      }
    }
    auto more = fill(size + 2);
    if (!more) return tl::unexpected(more.error());
    if (!*more) return tl::unexpected(std::string("EOF inside chunk"));
    body.append(buf_, 0, size);
    buf_.erase(0, size + 2);
  }
}

void HttpClient::set_header(std::string name, std::string value) {
  std::erase_if(extra_headers_, [&](const auto& h) { return h.first == name; });
  if (!value.empty()) extra_headers_.emplace_back(std::move(name), std::move(value));
}

}  // namespace ringpost::it
