// dot_stuff(): exact outputs for the edge cases, plus invariants over generated input.
#include "smtp/dot_stuffer.h"

#include <random>
#include <string>

#include <gtest/gtest.h>

namespace ringpost::smtp {
namespace {

TEST(DotStuffer, PlainCrlfMessage) {
  EXPECT_EQ(dot_stuff("Subject: x\r\n\r\nbody\r\n"), "Subject: x\r\n\r\nbody\r\n.\r\n");
}

TEST(DotStuffer, LeadingDotsAreDoubled) {
  EXPECT_EQ(dot_stuff(".a\r\n..b\r\nc.d\r\n"), "..a\r\n...b\r\nc.d\r\n.\r\n");
}

TEST(DotStuffer, FirstLineStartingWithDot) {
  EXPECT_EQ(dot_stuff(".\r\n"), "..\r\n.\r\n");
}

TEST(DotStuffer, LineThatIsJustADot) {
  EXPECT_EQ(dot_stuff("a\r\n.\r\nb\r\n"), "a\r\n..\r\nb\r\n.\r\n");
}

TEST(DotStuffer, BareLfBecomesCrlf) {
  EXPECT_EQ(dot_stuff("a\nb\n\n.c\n"), "a\r\nb\r\n\r\n..c\r\n.\r\n");
}

TEST(DotStuffer, BareCrBecomesCrlf) {
  EXPECT_EQ(dot_stuff("a\rb\r\r\n.c\r"), "a\r\nb\r\n\r\n..c\r\n.\r\n");
}

TEST(DotStuffer, LfCrIsTwoLineEnds) {
  // "\n\r" is not a line end pair: a bare LF followed by a bare CR.
  EXPECT_EQ(dot_stuff("a\n\rb"), "a\r\n\r\nb\r\n.\r\n");
}

TEST(DotStuffer, MissingFinalCrlfIsAdded) {
  EXPECT_EQ(dot_stuff("Subject: x\r\n\r\nno newline"), "Subject: x\r\n\r\nno newline\r\n.\r\n");
  EXPECT_EQ(dot_stuff("."), "..\r\n.\r\n");
}

TEST(DotStuffer, EmptyBodyIsJustTheTerminator) {
  EXPECT_EQ(dot_stuff(""), ".\r\n");
}

TEST(DotStuffer, EmptyLinesSurvive) {
  EXPECT_EQ(dot_stuff("\r\n\r\n"), "\r\n\r\n.\r\n");
}

TEST(DotStuffer, AppendKeepsExistingContent) {
  std::string out = "DATA already here|";
  dot_stuff_append(".x", out);
  EXPECT_EQ(out, "DATA already here|..x\r\n.\r\n");
}

TEST(DotStuffer, BinaryBytesPassThrough) {
  const std::string in("a\0b\xff\r\n", 6);
  EXPECT_EQ(dot_stuff(in), std::string("a\0b\xff\r\n.\r\n", 9));
}

// What a receiver does (RFC 5321 §4.5.2): split at CRLF until ".", drop one leading dot.
std::string unstuff(const std::string& wire, bool& terminated) {
  std::string out;
  terminated = false;
  std::size_t pos = 0;
  while (pos < wire.size()) {
    const std::size_t eol = wire.find("\r\n", pos);
    if (eol == std::string::npos) break;
    std::string line = wire.substr(pos, eol - pos);
    pos = eol + 2;
    if (line == ".") {
      terminated = pos == wire.size();  // the terminator must be the very end
      break;
    }
    if (!line.empty() && line[0] == '.') line.erase(0, 1);
    out += line + "\r\n";
  }
  return out;
}

// The input with every line end (CRLF, bare CR, bare LF) made CRLF and a final CRLF added.
std::string normalize(const std::string& in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r') {
      out += "\r\n";
      if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
    } else if (in[i] == '\n') {
      out += "\r\n";
    } else {
      out += in[i];
    }
  }
  if (!out.empty() && (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0)) out += "\r\n";
  return out;
}

TEST(DotStuffer, RoundTripsThroughAReceiverOnGeneratedInput) {
  std::mt19937 rng(12345);
  const char alphabet[] = {'.', '.', 'a', '\r', '\n', ' '};
  for (int iter = 0; iter < 20000; ++iter) {
    std::string in;
    const int len = static_cast<int>(rng() % 24);
    for (int i = 0; i < len; ++i) in += alphabet[rng() % sizeof(alphabet)];
    const std::string wire = dot_stuff(in);
    // No bare CR or LF anywhere on the wire.
    for (std::size_t i = 0; i < wire.size(); ++i) {
      if (wire[i] == '\r') {
        ASSERT_TRUE(i + 1 < wire.size() && wire[i + 1] == '\n') << "input: " << testing::PrintToString(in);
      }
      if (wire[i] == '\n') {
        ASSERT_TRUE(i > 0 && wire[i - 1] == '\r') << "input: " << testing::PrintToString(in);
      }
    }
    bool terminated = false;
    ASSERT_EQ(unstuff(wire, terminated), normalize(in)) << "input: " << testing::PrintToString(in);
    ASSERT_TRUE(terminated) << "input: " << testing::PrintToString(in);
  }
}

TEST(DotStuffer, LargeBody) {
  std::string in;
  for (int i = 0; i < 100000; ++i) in += (i % 7 == 0) ? ".dotted line\n" : "ordinary line of text\r\n";
  const std::string wire = dot_stuff(in);
  bool terminated = false;
  EXPECT_EQ(unstuff(wire, terminated), normalize(in));
  EXPECT_TRUE(terminated);
}

}  // namespace
}  // namespace ringpost::smtp
