// Bounded, seeded fuzzing in the ordinary test run: 20,000 random or mutated server byte
// streams through ReplyParser and through ClientSession (tests/smtp/session_harness.h checks
// the invariants). The seeds are the corpus of the libFuzzer targets (tests/fuzz), replayed
// here first so a broken seed is caught without clang.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/smtp/session_harness.h"

namespace ringpost::smtp::testing {
namespace {

constexpr int kIterations = 20000;

std::vector<std::pair<std::string, std::string>> load_corpus(const std::string& sub) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& e : std::filesystem::directory_iterator(std::string(RINGPOST_FUZZ_CORPUS_DIR) + "/" + sub)) {
    std::ifstream f(e.path(), std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    out.emplace_back(e.path().filename().string(), ss.str());
  }
  std::sort(out.begin(), out.end());  // directory order is not stable; the mutations must be
  return out;
}

// Bytes a server plausibly sends, plus the harness's own control bytes, plus anything.
char random_byte(std::mt19937& rng) {
  static const std::string alphabet = "0123456789 -.\r\n\r\n2505543542214xyz\x1e\x1e\x1f";
  return rng() % 8 == 0 ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
}

std::string mutate(std::string s, const std::vector<std::pair<std::string, std::string>>& corpus, std::mt19937& rng) {
  for (int n = 1 + static_cast<int>(rng() % 4); n > 0; --n) {
    const std::size_t at = s.empty() ? 0 : rng() % s.size();
    switch (rng() % 6) {
      case 0:  // flip a byte
        if (!s.empty()) s[at] = random_byte(rng);
        break;
      case 1:  // insert bytes
        s.insert(at, 1 + rng() % 4, random_byte(rng));
        break;
      case 2:  // delete a run
        if (!s.empty()) s.erase(at, 1 + rng() % 8);
        break;
      case 3: {  // duplicate a run
        if (s.empty()) break;
        const std::string run = s.substr(at, 1 + rng() % 32);
        s.insert(rng() % (s.size() + 1), run);
        break;
      }
      case 4: {  // splice in part of another seed
        const std::string& other = corpus[rng() % corpus.size()].second;
        if (other.empty()) break;
        const std::size_t from = rng() % other.size();
        s = s.substr(0, at) + other.substr(from, 1 + rng() % 64) + s.substr(at);
        break;
      }
      case 5:  // truncate
        s.resize(at);
        break;
    }
  }
  return s;
}

TEST(SessionFuzz, SeedsRunCleanAndReachDeepStates) {
  const auto corpus = load_corpus("session");
  ASSERT_GE(corpus.size(), 10u);
  SessionRunStats total;
  for (const auto& [name, bytes] : corpus) {
    SessionRunStats stats;
    EXPECT_EQ(run_session_script(bytes, &stats), "") << name;
    total.delivered += stats.delivered;
    total.tls_started = total.tls_started || stats.tls_started;
    total.bdat_sent = total.bdat_sent || stats.bdat_sent;
  }
  // Seeds that no longer get past the greeting would make the mutations below shallow.
  EXPECT_GE(total.delivered, 20);
  EXPECT_TRUE(total.tls_started);
  EXPECT_TRUE(total.bdat_sent);
}

TEST(SessionFuzz, RandomAndMutatedStreamsKeepTheInvariants) {
  const auto corpus = load_corpus("session");
  ASSERT_FALSE(corpus.empty());
  std::mt19937 rng(20240607);
  const auto start = std::chrono::steady_clock::now();
  int delivered = 0;
  for (int i = 0; i < kIterations; ++i) {
    std::string script;
    if (i % 4 == 0) {
      script += static_cast<char>('0' + rng() % 16);
      for (int n = static_cast<int>(rng() % 200); n > 0; --n) script += random_byte(rng);
    } else {
      script = mutate(corpus[rng() % corpus.size()].second, corpus, rng);
    }
    SessionRunStats stats;
    const std::string err = run_session_script(script, &stats);
    ASSERT_EQ(err, "") << "iteration " << i << ", script " << ::testing::PrintToString(script) << "\nwire "
                       << ::testing::PrintToString(stats.wire);
    delivered += stats.delivered;
  }
  EXPECT_GT(delivered, 0) << "mutations never reached a delivery";
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  RecordProperty("elapsed_ms", static_cast<int>(ms.count()));
}

TEST(ReplyParserFuzz, RandomAndMutatedStreamsKeepTheContract) {
  const auto corpus = load_corpus("reply_parser");
  ASSERT_FALSE(corpus.empty());
  for (const auto& [name, bytes] : corpus) EXPECT_EQ(check_reply_parser(bytes), "") << name;
  std::mt19937 rng(8675309);
  for (int i = 0; i < kIterations; ++i) {
    std::string bytes;
    if (i % 4 == 0) {
      for (int n = static_cast<int>(rng() % 120); n > 0; --n) bytes += random_byte(rng);
    } else {
      bytes = mutate(corpus[rng() % corpus.size()].second, corpus, rng);
    }
    ASSERT_EQ(check_reply_parser(bytes), "") << "iteration " << i << ", input " << ::testing::PrintToString(bytes);
  }
}

}  // namespace
}  // namespace ringpost::smtp::testing
