// The sans-IO SMTP core, single thread, no sockets:
//   BM_ReplyParse/<kind>/bytes:N              ReplyParser over a whole buffer (one reply, a multi-line
//                                             reply with enhanced codes, an EHLO answer, or the batch of
//                                             replies a pipelined transaction gets back in one read)
//   BM_SessionTransaction/pipelining:P/chunking:C/rcpts:R
//                                             one transaction on a ready ClientSession: submit, the
//                                             scripted replies, take_results (1 KiB message)
//   BM_SessionConnection/pipelining:P/rcpts:1 greeting, EHLO, one transaction, QUIT on a fresh session
//   BM_DotStuff/body:N, BM_BdatFrame/body:N, BM_BodyScan/body:N
//                                             the DATA payload, the BDAT command + payload, and the
//                                             scan every submit does (SIZE=, BDAT count, 8BITMIME)
//   BM_CopyBaseline/body:N                    appending the same bytes to a warm buffer: the floor
//                                             the two framings are compared against
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "bench/micro/micro.h"
#include "smtp/body_scan.h"
#include "smtp/client_session.h"
#include "smtp/command_writer.h"
#include "smtp/dot_stuffer.h"
#include "smtp/reply_parser.h"

namespace ringpost::bench {
namespace {

using smtp::ClientSession;

// ---- reply parser ----

const std::string kSingle = "250 2.0.0 Ok: queued as 4dF3kL0Qz9x\r\n";
const std::string kMultilineEnhanced =
    "550-5.7.1 [192.0.2.1] The IP you're using to send mail is not authorized to\r\n"
    "550-5.7.1 send email directly to our servers. Please use the SMTP relay at your\r\n"
    "550-5.7.1 service provider instead. For more information, go to\r\n"
    "550 5.7.1  https://support.google.com/mail/?p=NotAuthorizedError a1si1234567qkb.1 - gsmtp\r\n";
const std::string kEhlo =
    "250-mx.dest.test Hello mta.example.test [192.0.2.1]\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n"
    "250-PIPELINING\r\n250-CHUNKING\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n"
    "250 SMTPUTF8\r\n";

// What a pipelined MAIL, `rcpts` x RCPT, DATA gets back in one read.
std::string pipelined_replies(int rcpts) {
  std::string s = "250 2.1.0 Ok\r\n";
  for (int i = 0; i < rcpts; ++i) s += "250 2.1.5 Ok\r\n";
  return s + "354 End data with <CR><LF>.<CR><LF>\r\n";
}

void BM_ReplyParse(benchmark::State& state, const std::string& in) {
  smtp::ReplyParser parser;
  smtp::Reply reply;
  int64_t replies = 0;
  for (auto _ : state) {
    std::string_view rest = in;
    while (!rest.empty()) {
      auto r = parser.parse(rest, reply);
      if (r.status != smtp::ReplyParser::Status::complete) {
        state.SkipWithError("the input is not a whole number of replies");
        return;
      }
      benchmark::DoNotOptimize(reply.code);
      rest.remove_prefix(r.consumed);
      ++replies;
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(in.size()));
  state.SetItemsProcessed(replies);  // replies parsed
}

// ---- session ----

std::string ehlo_reply(bool pipelining, bool chunking) {
  std::string s = "250-mx.dest.test\r\n";
  if (pipelining) s += "250-PIPELINING\r\n";
  if (chunking) s += "250-CHUNKING\r\n";
  return s + "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n";
}

// The server's side of one transaction: one string per read, each fed after the client's
// output so far has been consumed (a reply to an unconsumed command fails the session). With
// pipelining the server answers every command it got in one write, as Postfix does.
std::vector<std::string> transaction_replies(bool pipelining, bool chunking, int rcpts) {
  const std::string mail = "250 2.1.0 Ok\r\n", rcpt = "250 2.1.5 Ok\r\n", data = "354 End data\r\n",
                    done = "250 2.0.0 Ok: queued as 4dF3kL0Qz9x\r\n";
  std::vector<std::string> out;
  if (pipelining) {
    std::string first = mail;
    for (int i = 0; i < rcpts; ++i) first += rcpt;
    if (chunking) return {first + done};  // BDAT's content follows its command at once
    return {first + data, done};
  }
  out.push_back(mail);
  for (int i = 0; i < rcpts; ++i) out.push_back(rcpt);
  if (!chunking) out.push_back(data);
  out.push_back(done);
  return out;
}

smtp::Envelope envelope(int rcpts, std::shared_ptr<const std::string> body) {
  smtp::Envelope e;
  e.tag = 1;
  e.from = "alice@example.test";
  for (int i = 0; i < rcpts; ++i) e.recipients.push_back(fmt::format("user{}@dest.test", i));
  e.body = std::move(body);
  return e;
}

// Hands everything pending to the "socket"; returns the byte count.
std::size_t drain(ClientSession& s) {
  const std::size_t n = s.pending_output().size();
  s.consume_output(n);
  return n;
}

// Runs one transaction on a ready session; false unless every recipient was delivered.
bool transaction(ClientSession& s, const smtp::Envelope& env, const std::vector<std::string>& replies,
                 std::size_t& written) {
  s.submit(env);  // a copy, as the driver builds one per job
  for (const std::string& r : replies) {
    written += drain(s);
    s.on_bytes(r);
  }
  written += drain(s);
  auto results = s.take_results();
  if (results.size() != 1) return false;
  for (const auto& r : results[0].recipients)
    if (r.outcome != smtp::Outcome::delivered) return false;
  return s.ready();
}

// A session past the greeting and EHLO.
bool greet(ClientSession& s, const std::string& ehlo, std::size_t& written) {
  s.on_bytes("220 mx.dest.test ESMTP\r\n");
  written += drain(s);
  s.on_bytes(ehlo);
  return s.ready();
}

void BM_SessionTransaction(benchmark::State& state, bool pipelining, bool chunking, int rcpts) {
  const auto env = envelope(rcpts, std::make_shared<const std::string>(rendered_message(1024)));
  const auto replies = transaction_replies(pipelining, chunking, rcpts);
  ClientSession s(smtp::SessionConfig{"mta.example.test"});
  std::size_t written = 0;
  if (!greet(s, ehlo_reply(pipelining, chunking), written)) return state.SkipWithError("EHLO failed");
  written = 0;
  for (auto _ : state) {
    if (!transaction(s, env, replies, written)) return state.SkipWithError("transaction did not deliver");
  }
  state.SetItemsProcessed(state.iterations());                   // transactions
  state.SetBytesProcessed(static_cast<int64_t>(written));        // client bytes on the wire
}

void BM_SessionConnection(benchmark::State& state, bool pipelining, int rcpts) {
  const auto env = envelope(rcpts, std::make_shared<const std::string>(rendered_message(1024)));
  const auto replies = transaction_replies(pipelining, false, rcpts);
  const std::string ehlo = ehlo_reply(pipelining, false);
  std::size_t written = 0;
  for (auto _ : state) {
    ClientSession s(smtp::SessionConfig{"mta.example.test"});
    if (!greet(s, ehlo, written) || !transaction(s, env, replies, written))
      return state.SkipWithError("session did not deliver");
    s.quit();
    written += drain(s);
    s.on_bytes("221 2.0.0 Bye\r\n");
    if (s.state() != smtp::SessionState::closed) return state.SkipWithError("QUIT did not close");
  }
  state.SetItemsProcessed(state.iterations());  // connections
  state.SetBytesProcessed(static_cast<int64_t>(written));
}

// ---- framing ----

// Each iteration appends to a buffer cleared but not freed, as the session's output buffer is
// between transactions, so the numbers are the framing and not the allocator.
void BM_DotStuff(benchmark::State& state, std::size_t bytes) {
  const std::string msg = rendered_message(bytes);
  std::string out;
  for (auto _ : state) {
    out.clear();
    smtp::dot_stuff_append(msg, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(msg.size()));
}

void BM_BdatFrame(benchmark::State& state, std::size_t bytes) {
  const std::string msg = rendered_message(bytes);
  const std::size_t wire = smtp::scan_body(msg).wire_size;  // computed at submit, not per frame
  std::string out;
  for (auto _ : state) {
    out.clear();
    smtp::write_bdat(out, wire, true);
    smtp::crlf_normalize_append(msg, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(msg.size()));
}

void BM_BodyScan(benchmark::State& state, std::size_t bytes) {
  const std::string msg = rendered_message(bytes);
  for (auto _ : state) benchmark::DoNotOptimize(smtp::scan_body(msg));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(msg.size()));
}

void BM_CopyBaseline(benchmark::State& state, std::size_t bytes) {
  const std::string msg = rendered_message(bytes);
  std::string out;
  for (auto _ : state) {
    out.clear();
    out.append(msg);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(msg.size()));
}

}  // namespace

void register_smtp() {
  static const std::string pipelined = pipelined_replies(10);
  for (auto [kind, in] : {std::pair{"single", &kSingle}, std::pair{"multiline_enhanced", &kMultilineEnhanced},
                          std::pair{"ehlo", &kEhlo}, std::pair{"pipelined_12", &pipelined}})
    benchmark::RegisterBenchmark(fmt::format("BM_ReplyParse/{}/bytes:{}", kind, in->size()).c_str(), BM_ReplyParse,
                                 std::cref(*in));

  for (bool pipelining : {false, true})
    for (bool chunking : {false, true})
      for (int rcpts : {1, 10})
        benchmark::RegisterBenchmark(fmt::format("BM_SessionTransaction/pipelining:{}/chunking:{}/rcpts:{}",
                                                 int{pipelining}, int{chunking}, rcpts)
                                         .c_str(),
                                     BM_SessionTransaction, pipelining, chunking, rcpts);
  for (bool pipelining : {false, true})
    benchmark::RegisterBenchmark(fmt::format("BM_SessionConnection/pipelining:{}/rcpts:1", int{pipelining}).c_str(),
                                 BM_SessionConnection, pipelining, 1);

  for (std::size_t body : {std::size_t{1024}, std::size_t{100 * 1024}}) {
    benchmark::RegisterBenchmark(fmt::format("BM_DotStuff/body:{}", body).c_str(), BM_DotStuff, body);
    benchmark::RegisterBenchmark(fmt::format("BM_BdatFrame/body:{}", body).c_str(), BM_BdatFrame, body);
    benchmark::RegisterBenchmark(fmt::format("BM_BodyScan/body:{}", body).c_str(), BM_BodyScan, body);
    benchmark::RegisterBenchmark(fmt::format("BM_CopyBaseline/body:{}", body).c_str(), BM_CopyBaseline, body);
  }
}

}  // namespace ringpost::bench
