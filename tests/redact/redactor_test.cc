// Redactor: every kind of secret, in keys and values, nested, and written
// with JSON escapes, is replaced; everything else stays byte for byte.

#include "engine/redact/redactor.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace tracelog {
namespace {

std::string Redacted(const std::string& event, const RedactOptions& o = {}) {
  auto r = Redactor::Create(o);
  EXPECT_TRUE(r.ok()) << r.status();
  std::string out;
  auto changed = (*r)->Redact(event, &out);
  EXPECT_TRUE(changed.ok()) << changed.status();
  return changed.ok() && *changed ? out : event;
}

TEST(RedactorTest, ValuesOfSecretKeysAtAnyDepth) {
  EXPECT_EQ(Redacted(R"({"a":1,"data":{"password":"hunter2","x":[{"API-Key":12345}]}})"),
            R"({"a":1,"data":{"password":"[REDACTED]","x":[{"API-Key":"[REDACTED]"}]},"redacted":true})");
  EXPECT_EQ(Redacted(R"({"headers":{"Authorization":"x y z"},"accessToken":"t"})"),
            R"({"headers":{"Authorization":"[REDACTED]"},"accessToken":"[REDACTED]","redacted":true})");
  EXPECT_EQ(Redacted("{\"token\":\"a\"} \n"), "{\"token\":\"[REDACTED]\",\"redacted\":true} \n");
  // A whole object or array under a secret key; null and booleans hide nothing.
  EXPECT_EQ(Redacted(R"({"credentials": {"user": "u", "pw": "p"}, "secret": null})"),
            R"({"credentials": "[REDACTED]", "secret": null,"redacted":true})");
}

TEST(RedactorTest, KeysThatOnlyLookLikeSecretsStay) {
  const std::string event =
      R"({"usage":{"max_tokens":5,"input_tokens":10,"token_count":3},"tool_name":"Bash","key":"k"})";
  EXPECT_EQ(Redacted(event), event);
}

TEST(RedactorTest, EveryKindOfSecretInAValue) {
  const char* secrets[] = {
      "AKIAIOSFODNN7EXAMPLE",
      "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
      "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
      "glpat-abcdefghij0123456789",
      "xoxb-1234567890-abcdefghij",
      "sk-proj-abcdefghijklmnopqrstuvwx",
      "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
      "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
  };
  for (const char* secret : secrets) {
    SCOPED_TRACE(secret);
    const std::string out = Redacted(std::string(R"({"data":{"output":"found )") + secret +
                                     R"( in the file"}})");
    EXPECT_FALSE(absl::StrContains(out, secret)) << out;
    EXPECT_TRUE(absl::StrContains(out, R"("found [REDACTED] in the file")")) << out;
  }
}

TEST(RedactorTest, ContextIsKeptAroundTheSecret) {
  EXPECT_EQ(Redacted(R"({"cmd":"curl -H 'Authorization: Bearer abcdef123456789' x"})"),
            R"({"cmd":"curl -H 'Authorization: Bearer [REDACTED]' x","redacted":true})");
  EXPECT_EQ(Redacted(R"({"url":"postgres://admin:s3cr3t@db:5432/app"})"),
            R"({"url":"postgres://admin:[REDACTED]@db:5432/app","redacted":true})");
  EXPECT_EQ(Redacted(R"({"cmd":"mysql --password=pw1 --password pw2 -u root"})"),
            R"({"cmd":"mysql --password=[REDACTED] --password [REDACTED] -u root","redacted":true})");
  EXPECT_EQ(Redacted(R"({"cmd":"export GITHUB_TOKEN=abc123 && DB_PASSWORD=xyz run"})"),
            R"({"cmd":"export GITHUB_TOKEN=[REDACTED] && DB_PASSWORD=[REDACTED] run","redacted":true})");
  const std::string pem =
      R"({"f":"a\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----\nb"})";
  EXPECT_EQ(Redacted(pem), R"({"f":"a\n[REDACTED]\nb","redacted":true})");
}

// Long strings are searched around the places the quick matcher reported:
// secrets far apart, at both ends and next to one another are all found.
TEST(RedactorTest, SecretsAnywhereInALongString) {
  const std::string filler(9000, 'x');
  const std::string text = "PASSWORD=p1 " + filler + " export API_KEY=k2 AKIAIOSFODNN7EXAMPLE " +
                           filler + "--token t3 postgres://u:pw4@h/d " + filler +
                           " ghp_abcdefghijklmnopqrstuvwxyz0123456789";
  const std::string want = "PASSWORD=[REDACTED] " + filler + " export API_KEY=[REDACTED] [REDACTED] " +
                           filler + "--token [REDACTED] postgres://u:[REDACTED]@h/d " + filler +
                           " [REDACTED]";
  EXPECT_EQ(Redacted("{\"out\":\"" + text + "\"}"), "{\"out\":\"" + want + "\",\"redacted\":true}");
}

TEST(RedactorTest, SecretsWrittenWithJsonEscapesAreFound) {
  // "\u0041KIA..." is "AKIA...", and "pass\u0077ord" is "password".
  EXPECT_EQ(Redacted(R"({"v":"\u0041KIAIOSFODNN7EXAMPLE","pass\u0077ord":"x"})"),
            R"({"v":"[REDACTED]","pass\u0077ord":"[REDACTED]","redacted":true})");
}

// Only the secret is rewritten: the rest of the string keeps its escapes as
// written, before and after it, and escapes inside the secret go with it.
TEST(RedactorTest, EscapesAroundASecretStayAsWritten) {
  EXPECT_EQ(Redacted(R"({"o":"caf\u00e9 \ud83d\ude00 \/x\n TOKEN=abc \"q\" \u00e9"})"),
            R"({"o":"caf\u00e9 \ud83d\ude00 \/x\n TOKEN=[REDACTED] \"q\" \u00e9","redacted":true})");
  EXPECT_EQ(Redacted(R"({"o":"\t TOKEN=a\u0062c\u00e9\ud83d\ude00\nnext"})"),
            R"({"o":"\t TOKEN=[REDACTED]\nnext","redacted":true})");
  // Two patterns (passes): the string is written again whole.
  EXPECT_EQ(Redacted(R"({"o":"\/ AKIAIOSFODNN7EXAMPLE then PASSWORD=x"})"),
            R"({"o":"/ [REDACTED] then PASSWORD=[REDACTED]","redacted":true})");
}

TEST(RedactorTest, UnchangedEventsAreNotRewrittenAndRedactingTwiceChangesNothing) {
  auto r = Redactor::Create();
  ASSERT_TRUE(r.ok());
  std::string out = "untouched";
  auto changed = (*r)->Redact(R"({"event_type":"tool_call","data":{"cmd":"ls -la"}})", &out);
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(*changed);
  EXPECT_EQ(out, "untouched");
  const std::string once =
      Redacted(R"({"token":"abc","note":"AKIAIOSFODNN7EXAMPLE","cmd":"PASSWORD=x run"})");
  EXPECT_TRUE(absl::StrContains(once, "PASSWORD=[REDACTED] run")) << once;
  changed = (*r)->Redact(once, &out);
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(*changed) << out;
}

TEST(RedactorTest, KeysAndPatternsOfTheUser) {
  RedactOptions o;
  o.extra_keys = {"ssn"};
  o.extra_patterns = {R"(\bEMP-(\d{6})\b)"};
  EXPECT_EQ(Redacted(R"({"SSN":"123","who":"EMP-123456 here"})", o),
            R"({"SSN":"[REDACTED]","who":"[REDACTED] here","redacted":true})");
  o.extra_patterns = {"(unclosed"};
  auto bad = Redactor::Create(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "(unclosed")) << bad.status();
}

TEST(RedactorTest, NotAnObjectThatMayHoldASecretIsAnError) {
  auto r = Redactor::Create();
  ASSERT_TRUE(r.ok());
  std::string out;
  EXPECT_FALSE((*r)->Redact("[{\"password\":1}]", &out).ok());
  EXPECT_FALSE((*r)->Redact("{\"password\":", &out).ok());
  // Found by fuzz_redact: text after the object once took the mark.
  EXPECT_FALSE((*r)->Redact("{\"password\":\"x\"}}", &out).ok());
  // Bad JSON inside the value of a secret key (once replaced unread).
  EXPECT_FALSE((*r)->Redact("{\"password\":{\"a\":tru},\"b\":1}", &out).ok());
  EXPECT_FALSE((*r)->Redact("{\"password\":[1,,2]}", &out).ok());
  EXPECT_FALSE((*r)->Redact("{\"cmd\":\"TOKEN=x\",\"n\":tru}", &out).ok());
  // Deeper than writers read (1,024 levels): an error, not a walk that
  // overflows the stack (found by fuzz_redact; the input is kept in
  // tests/fuzz/regressions/redact).
  const std::string deep = "{\"password\":\"x\",\"a\":" + std::string(100000, '[') +
                           std::string(100000, ']') + "}";
  EXPECT_FALSE((*r)->Redact(deep, &out).ok());
  const std::string ok_depth = "{\"password\":\"x\",\"a\":" + std::string(1000, '[') +
                               std::string(1000, ']') + "}";
  EXPECT_TRUE((*r)->Redact(ok_depth, &out).ok());
}

// Writers take strings that do not decode (a lone surrogate, which
// Python's json writes, an escape JSON lacks) and bytes that are not UTF-8;
// with redaction on, an event holding one and anything the quick test
// passes was refused ("not valid JSON"). Such a string is searched with
// what does not decode read as '?'; the rest of the event as always.
TEST(RedactorTest, StringsThatDoNotDecodeAndBadUtf8AreRedactedNotRefused) {
  EXPECT_EQ(Redacted(R"({"data":{"out":"\udc80 TOKEN=abc","b":"\ud800"},"password":"\udc81"})"),
            R"({"data":{"out":"\udc80 TOKEN=[REDACTED]","b":"\ud800"},"password":"[REDACTED]","redacted":true})");
  EXPECT_EQ(Redacted(R"({"o":"\x TOKEN=abc"})"), R"({"o":"\x TOKEN=[REDACTED]","redacted":true})");
  // Escapes that decode are decoded there too (a key written as \u0041KIA).
  EXPECT_EQ(Redacted(R"({"o":"\udc80 \u0041KIAIOSFODNN7EXAMPLE \q"})"),
            R"({"o":"\udc80 [REDACTED] \q","redacted":true})");
  // Found by fuzz_redact: an escape of a character of several bytes is one
  // escape (a mark once cut the character in two).
  EXPECT_EQ(Redacted("{\"o\":\"TOKEN=abc\\\xd7\x96 x\"}"),
            "{\"o\":\"TOKEN=[REDACTED] x\",\"redacted\":true}");
  EXPECT_EQ(Redacted("{\"o\":\"\xff TOKEN=abc \xfe\",\"p\":\"\xc3\"}"),
            "{\"o\":\"\xff TOKEN=[REDACTED] \xfe\",\"p\":\"\xc3\",\"redacted\":true}");
  // A lone surrogate alone holds nothing to replace.
  auto r = Redactor::Create();
  ASSERT_TRUE(r.ok());
  std::string out;
  auto changed = (*r)->Redact(R"({"data":{"out":"\udc80"}})", &out);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_FALSE(*changed);
}

// Writers take what Python's json module writes (NaN, Infinity, numbers
// of any size: json_value.h); an event holding them and a secret was
// refused when redaction was on ("not a JSON object") and stored when off.
TEST(RedactorTest, EventsWithPythonsNumbersAreRedactedNotRefused) {
  EXPECT_EQ(Redacted(R"({"v":NaN,"w":[Infinity,-Infinity,123456789012345678901234567890],"cmd":"export GITHUB_TOKEN=abc123"})"),
            R"({"v":NaN,"w":[Infinity,-Infinity,123456789012345678901234567890],"cmd":"export GITHUB_TOKEN=[REDACTED]","redacted":true})");
  EXPECT_EQ(Redacted(R"({"password":NaN,"api_key":1e400})"),
            R"({"password":"[REDACTED]","api_key":"[REDACTED]","redacted":true})");
}

// Each pattern is searched near the places where its gate matched; what
// it finds must be what RE2 finds over the whole string (the reference:
// whole_strings_for_testing): prefixes longer than the search reaches
// back, gates that match where the pattern does not, matches next to one
// another and far apart, in short and long strings.
TEST(RedactorTest, SearchingNearTheGatesFindsWhatTheWholeStringSearchFinds) {
  RedactOptions o;
  o.whole_strings_for_testing = true;
  auto near_gates = Redactor::Create(), whole = Redactor::Create(o);
  ASSERT_TRUE(near_gates.ok() && whole.ok());
  auto redacted = [](const Redactor& r, const std::string& event) {
    std::string out;
    auto changed = r.Redact(event, &out);
    EXPECT_TRUE(changed.ok()) << changed.status();
    return changed.ok() && *changed ? out : event;
  };
  const std::string pad(3000, 'x'), spaces(400, ' ');
  const std::string texts[] = {
      "TOKEN" + spaces + "= s1 and PASSWORD=" + pad + " end",
      pad + " token" + spaces + ":" + spaces + "s2 " + pad,
      "token= ; token=\\\"q\\\" token=; " + pad + " secret = s3 token=,",
      "PASSWORD=a PASSWORD=b PASSWORD=c" + pad + "api_key:d,secret:e",
      "Bearer " + spaces + "abcdefgh12345 basic xy " + pad + " bearer abcdefghijk",
      "https://" + pad + "u:p@host and ftp://a:b@c/d " + pad + " x://:@",
      "--password=p1 --token " + spaces + "t2 -secret=" + pad,
      "AKIAIOSFODNN7EXAMPLEAKIAIOSFODNN7EXAMPLE AKIAIOSFODNN7EXAMPLE " + pad,
      "eyJ" + pad.substr(0, 300) + ".eyJabcde.fghij " + spaces + " TOKEN=[REDACTED] token=[REDACTED]x",
      // Found by review: a JWT whose first segment is long and holds a '-'
      // (a shorter token starts after it), and a Bearer credential after
      // 300 blanks with another after it, were found in part from near
      // their gates; and a vertical tab (a blank to Hyperscan's \s, not to
      // RE2's) hid a password from its gate.
      "eyJ" + pad.substr(0, 300) + "-eyJbbbbb.eyJccccc.ddddd",
      "Bearer" + spaces + "x.bearer abcdefgh",
      "https://u:p\\u000bw@h " + pad + " https://a:b@c",
  };
  for (const std::string& text : texts) {
    SCOPED_TRACE(text.substr(0, 80));
    const std::string event = "{\"out\":\"" + text + "\"}";
    const std::string reference = redacted(**whole, event);
    EXPECT_NE(reference, event);
    const std::string near = redacted(**near_gates, event);
    EXPECT_TRUE(near == reference) << "near the gates:\n" << near << "\nwhole strings:\n" << reference;
  }
}

}  // namespace
}  // namespace tracelog

namespace tracelog {
namespace {

// A replacement that shortens a long string moves every later match: the
// next pattern must be placed by where its matches are now (this input
// threw std::out_of_range, ending the process, when the second pattern's
// windows were placed by the first scan).
TEST(RedactorTest, AReplacementThatShortensALongStringMovesTheNextPatternsMatches) {
  const std::string token(8000, 'A'), filler(5000, '.');
  EXPECT_EQ(Redacted(R"({"x":"Bearer )" + token + R"( then PASSWORD=hunter2 ok )" + filler + R"("})"),
            R"({"x":"Bearer [REDACTED] then PASSWORD=[REDACTED] ok )" + filler +
                R"(","redacted":true})");
}

}  // namespace
}  // namespace tracelog
