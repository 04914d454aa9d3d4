// The HTTP front's per-message CPU work before the spool, single thread:
//   BM_ParseSubmit/text:1024          api::parse_submit of one message object (1 KiB text)
//   BM_ParseBatch/messages:1000       api::parse_batch of {"messages":[...]} with 1,000 of them
//   BM_RenderMessage/<kind>/body:1024 api::render_message: text, text+html (multipart), and text
//                                     with non-ASCII (quoted-printable)
//   BM_DkimSign/rsa2048/body:1024     one DKIM signature over the rendered 1 KiB message, named as
//                                     in bench/dkim (whose run.sh has every algorithm and size, and
//                                     the openssl floor); here only to put signing on the same scale
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench/micro/micro.h"
#include "dkim/signer.h"
#include "dkim/signing_key.h"
#include "engine/api/json_escape.h"
#include "engine/api/message_renderer.h"
#include "engine/api/submit_request.h"

namespace ringpost::bench {
namespace {

std::string message_json(const std::string& text, const std::string& html = {}) {
  std::string j = R"({"from":"agent@example.test","to":["bob@dest.test"],"subject":"Your November statement")";
  if (!text.empty()) {
    j += R"(,"text":)";
    api::append_json_string(j, text);
  }
  if (!html.empty()) {
    j += R"(,"html":)";
    api::append_json_string(j, html);
  }
  return j + "}";
}

std::string html_of(std::size_t bytes) {
  std::string h = "<html><body>";
  const std::string p = "<p>Hello Bob, your <b>November</b> statement is ready; the total is 42.00 EUR.</p>\n";
  while (h.size() + p.size() + 14 <= bytes) h += p;
  return h + "</body></html>";
}

// The fixtures are valid requests; a refusal means the API's rules changed under them.
std::string refused(const api::ApiError& e) {
  return fmt::format("fixture refused: {} {} ({})", e.code, e.message, e.field);
}

void BM_ParseSubmit(benchmark::State& state, const std::string& json) {
  for (auto _ : state) {
    auto m = api::parse_submit(json);
    if (!m) return state.SkipWithError(refused(m.error()).c_str());
    benchmark::DoNotOptimize(m->text.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(json.size()));
  state.SetItemsProcessed(state.iterations());  // messages
}

void BM_ParseBatch(benchmark::State& state, const std::string& json, int64_t messages) {
  for (auto _ : state) {
    auto b = api::parse_batch(json);
    if (!b) return state.SkipWithError(refused(b.error().items.empty() ? b.error().error : b.error().items[0].error).c_str());
    benchmark::DoNotOptimize(b->data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(json.size()));
  state.SetItemsProcessed(state.iterations() * messages);
}

void BM_RenderMessage(benchmark::State& state, const std::string& json) {
  const auto m = api::parse_submit(json);
  if (!m) return state.SkipWithError(refused(m.error()).c_str());
  int64_t bytes = 0;
  for (auto _ : state) {
    std::string out = api::render_message(*m, "01M8A1QARMMN7GJ7ZYR0YJMVPT", "mta.example.test", kNow);
    bytes += static_cast<int64_t>(out.size());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(bytes);  // rendered bytes
  state.SetItemsProcessed(state.iterations());
}

void BM_DkimSign(benchmark::State& state) {
  // Generated on first run only, so a --benchmark_filter that skips this pays nothing.
  static const auto key = [] {
    auto pem = dkim::generate_private_key_pem(dkim::Algorithm::rsa_sha256, 2048);
    auto k = pem ? dkim::parse_signing_key(*pem) : tl::make_unexpected(pem.error());
    return k ? std::make_shared<const dkim::SigningKey>(std::move(*k)) : nullptr;
  }();
  if (!key) return state.SkipWithError("RSA key generation failed");
  dkim::SignEntry e;
  e.domain = "example.test";
  e.selector = "rsa2048";
  e.key = key;
  e.headers = dkim::default_signed_headers();
  e.oversign = dkim::default_oversigned_headers();
  const std::vector<dkim::SignEntry> entries{e};
  const std::string msg = rendered_message(1024);
  dkim::Signer signer;
  for (auto _ : state) {
    auto sig = signer.sign(msg, entries, kNow);
    if (!sig) return state.SkipWithError(sig.error().message().c_str());
    benchmark::DoNotOptimize(sig->data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(msg.size()));
}

}  // namespace

void register_api() {
  static const std::string one = message_json(plain_text(1024));
  static const std::string batch = [] {
    std::string b = R"({"messages":[)";
    for (std::size_t i = 0; i < api::kMaxMessagesPerBatch; ++i) b += (i ? "," : "") + one;
    return b + "]}";
  }();
  static const std::string with_html = message_json(plain_text(1024), html_of(1024));
  static const std::string utf8 = message_json(plain_text(1024, true));

  benchmark::RegisterBenchmark("BM_ParseSubmit/text:1024", BM_ParseSubmit, std::cref(one));
  benchmark::RegisterBenchmark(fmt::format("BM_ParseBatch/messages:{}", api::kMaxMessagesPerBatch).c_str(),
                               BM_ParseBatch, std::cref(batch), static_cast<int64_t>(api::kMaxMessagesPerBatch))
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_RenderMessage/text/body:1024", BM_RenderMessage, std::cref(one));
  benchmark::RegisterBenchmark("BM_RenderMessage/text+html/body:1024", BM_RenderMessage, std::cref(with_html));
  benchmark::RegisterBenchmark("BM_RenderMessage/text_utf8_qp/body:1024", BM_RenderMessage, std::cref(utf8));
  benchmark::RegisterBenchmark("BM_DkimSign/rsa2048/body:1024", BM_DkimSign)->Unit(benchmark::kMicrosecond);
}

}  // namespace ringpost::bench
