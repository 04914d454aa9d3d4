// See client_context.h.
#include "engine/tls/client_context.h"

#include <openssl/err.h>

#include <optional>
#include <string_view>

#include <fmt/format.h>

#include "engine/tls/openssl_error.h"
#include "engine/tls/tls_engine.h"

namespace ringpost::tls {
namespace {

// 0 = "no limit" for SSL_CTX_set_{min,max}_proto_version.
std::optional<int> parse_version(std::string_view name, bool allow_empty) {
  if (name.empty() && allow_empty) return 0;
  if (name == "TLSv1") return TLS1_VERSION;
  if (name == "TLSv1.1") return TLS1_1_VERSION;
  if (name == "TLSv1.2") return TLS1_2_VERSION;
  if (name == "TLSv1.3") return TLS1_3_VERSION;
  return std::nullopt;
}

}  // namespace

tl::expected<ClientContext, std::string> ClientContext::make(const ClientTlsOptions& options) {
  const std::optional<int> min = parse_version(options.min_protocol, true);
  const std::optional<int> max = parse_version(options.max_protocol, true);
  if (!min)
    return tl::unexpected(fmt::format("unknown TLS min_protocol '{}' (TLSv1.2, TLSv1.3, ...)", options.min_protocol));
  if (!max)
    return tl::unexpected(fmt::format("unknown TLS max_protocol '{}' (TLSv1.2, TLSv1.3, ...)", options.max_protocol));
  if (*min && *max && *min > *max)
    return tl::unexpected(fmt::format("TLS min_protocol {} is above max_protocol {}", options.min_protocol,
                                      options.max_protocol));

  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return tl::unexpected(fmt::format("SSL_CTX_new: {}", drain_openssl_errors()));
  if (SSL_CTX_set_min_proto_version(ctx.get(), *min) != 1 || SSL_CTX_set_max_proto_version(ctx.get(), *max) != 1)
    return tl::unexpected(fmt::format("cannot set TLS protocol range: {}", drain_openssl_errors()));

  // Trust anchors are loaded in both modes: opportunistic connections still record whether
  // the peer would have verified, which the delivery status and logs report.
  if (options.ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1)
      return tl::unexpected(fmt::format("cannot load the default CA paths: {}", drain_openssl_errors()));
  } else if (SSL_CTX_load_verify_locations(ctx.get(), options.ca_file.c_str(), nullptr) != 1) {
    return tl::unexpected(fmt::format("cannot load CA file '{}': {}", options.ca_file, drain_openssl_errors()));
  }
  // SSL_VERIFY_NONE on a client still runs the chain and host checks and stores the result
  // (SSL_get_verify_result); it only stops a failure from aborting the handshake.
  SSL_CTX_set_verify(ctx.get(), options.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);

  // No renegotiation: a server-initiated one would make write() need to read, breaking the
  // "write never waits for input" contract of TlsEngine; SMTP has no use for it. No
  // compression (CRIME; already OpenSSL 3's default, stated for the reader).
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // Pooled SMTP connections idle for long stretches: let OpenSSL free its record buffers
  // (about 17 KiB each way) while a connection has nothing in flight.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  TlsEngine::enable_session_capture(ctx.get());
  ERR_clear_error();
  return ClientContext(std::move(ctx), options);
}

}  // namespace ringpost::tls
