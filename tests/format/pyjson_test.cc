#include "engine/ndjson/pyjson.h"

#include "gtest/gtest.h"

namespace tracelog {
namespace {

std::string F(double d) {
  std::string s;
  AppendPyFloat(&s, d);
  return s;
}
std::string S(const std::string& in) {
  std::string s;
  AppendPyJsonString(&s, in);
  return s;
}

// Expected strings are Python 3.11's repr(float) (agent-strace-format.md §5).
TEST(PyFloatTest, MatchesPythonRepr) {
  EXPECT_EQ(F(100.0), "100.0");
  EXPECT_EQ(F(1763632800.0), "1763632800.0");
  EXPECT_EQ(F(1795440021.8558512), "1795440021.8558512");
  EXPECT_EQ(F(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(F(1e-05), "1e-05");
  EXPECT_EQ(F(1e-07), "1e-07");
  EXPECT_EQ(F(0.0001), "0.0001");
  EXPECT_EQ(F(1e16), "1e+16");
  EXPECT_EQ(F(1e21), "1e+21");
  EXPECT_EQ(F(1.2345678901234568e+17), "1.2345678901234568e+17");
  EXPECT_EQ(F(5e-324), "5e-324");
  EXPECT_EQ(F(1.7976931348623157e+308), "1.7976931348623157e+308");
  EXPECT_EQ(F(-0.0), "-0.0");
  EXPECT_EQ(F(0.0), "0.0");
  EXPECT_EQ(F(9999999999999998.0), "9999999999999998.0");
  EXPECT_EQ(F(0.0007152557373046875), "0.0007152557373046875");
  EXPECT_EQ(F(std::numeric_limits<double>::infinity()), "Infinity");
  EXPECT_EQ(F(-std::numeric_limits<double>::infinity()), "-Infinity");
  EXPECT_EQ(F(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(PyJsonStringTest, EnsureAsciiEscapes) {
  EXPECT_EQ(S("plain / text"), "\"plain / text\"");
  EXPECT_EQ(S("q\"b\\n\nr\rt\tb\bf\f"), "\"q\\\"b\\\\n\\nr\\rt\\tb\\bf\\f\"");
  EXPECT_EQ(S(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(S("caf\xc3\xa9"), "\"caf\\u00e9\"");
  EXPECT_EQ(S("\xf0\x9f\x98\x80"), "\"\\ud83d\\ude00\"");
  EXPECT_EQ(S("\xe2\x80\xa8"), "\"\\u2028\"");
  EXPECT_EQ(S("bad\xff"), "\"bad\\ufffd\"");
}

}  // namespace
}  // namespace tracelog
