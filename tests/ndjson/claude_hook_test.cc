// ConvertHookInput: Claude Code's hook inputs as agent-strace events.

#include "engine/ndjson/claude_hook.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace tracelog {
namespace {

HookEvent Convert(const std::string& name, const std::string& input, const HookOptions& o = {}) {
  auto e = ConvertHookInput(name, input, 1795440000.25, "0123456789ab", o);
  EXPECT_TRUE(e.ok()) << e.status();
  return e.ok() ? *e : HookEvent{};
}

TEST(ClaudeHookTest, ToolCallInAgentStraceShapeWithEveryOtherFieldKept) {
  const HookEvent e = Convert(
      "PreToolUse",
      R"({"session_id":"s","transcript_path":"/t","hook_event_name":"PreToolUse","tool_name":"Bash",)"
      R"("tool_input":{"command":"ls","timeout":1.0},"tool_use_id":"toolu_1","new_field":[null,true]})");
  EXPECT_EQ(e.event_type, "tool_call");
  EXPECT_EQ(e.pairing, HookEvent::Pairing::kCall);
  EXPECT_EQ(e.event_id.size(), 12u);
  EXPECT_NE(e.event_id, "0123456789ab");  // derived from the tool_use_id
  EXPECT_EQ(HookEventLine(e),
            R"({"event_type":"tool_call","timestamp":1795440000.25,"event_id":")" + e.event_id +
                R"(","session_id":"s","data":{"tool_name":"Bash","arguments":{"command":"ls","timeout":1.0},)"
                R"("tool_use_id":"toolu_1","transcript_path":"/t","new_field":[null,true]}})");
}

TEST(ClaudeHookTest, AResultNamesItsOwnCallAcrossProcesses) {
  const std::string call = R"({"session_id":"s","tool_name":"Bash","tool_use_id":"A"})";
  const HookEvent a = Convert("PreToolUse", call);
  const HookEvent b = Convert("PreToolUse", R"({"session_id":"s","tool_name":"Bash","tool_use_id":"B"})");
  const HookEvent ra = Convert("PostToolUse", R"({"session_id":"s","tool_name":"Bash","tool_use_id":"A","tool_response":"x"})");
  const HookEvent fb = Convert("PostToolUseFailure", R"({"session_id":"s","tool_name":"Bash","tool_use_id":"B","error":"boom","is_interrupt":true})");
  EXPECT_NE(a.event_id, b.event_id);
  EXPECT_EQ(ra.parent_id, a.event_id);
  EXPECT_EQ(ra.pair_key, a.pair_key);
  EXPECT_EQ(fb.parent_id, b.event_id);
  EXPECT_EQ(fb.event_type, "error");
  EXPECT_TRUE(absl::StrContains(fb.data, R"("error":"boom","is_interrupt":true)")) << fb.data;
  // The same tool_use_id in another session is another call.
  EXPECT_NE(Convert("PreToolUse", R"({"session_id":"t","tool_use_id":"A"})").event_id, a.event_id);
}

TEST(ClaudeHookTest, SubAgentsAreChildSessions) {
  const HookEvent start = Convert("SubagentStart", R"({"session_id":"s","agent_id":"a1","agent_type":"Explore"})");
  EXPECT_EQ(start.event_type, "session_start");
  EXPECT_EQ(start.session_id, "s.a1");
  EXPECT_TRUE(absl::StrContains(start.data, R"("parent_session_id":"s")")) << start.data;
  const HookEvent call = Convert("PreToolUse", R"({"session_id":"s","agent_id":"a1","tool_use_id":"x"})");
  EXPECT_EQ(call.session_id, "s.a1");
  EXPECT_EQ(Convert("SubagentStop", R"({"session_id":"s","agent_id":"a1"})").event_type, "session_end");
}

TEST(ClaudeHookTest, NamesAndUnknownEvents) {
  EXPECT_EQ(CanonicalHookEventName("pre-tool"), "PreToolUse");
  EXPECT_EQ(CanonicalHookEventName("post-tool-failure"), "PostToolUseFailure");
  EXPECT_EQ(CanonicalHookEventName("sessionstart"), "SessionStart");
  // The input's hook_event_name wins over the command line's.
  EXPECT_EQ(Convert("Stop", R"({"session_id":"s","hook_event_name":"UserPromptSubmit","prompt":"p"})").event_type,
            "user_prompt");
  const HookEvent u = Convert("TaskCreated", R"({"session_id":"s","task":{"id":1}})");
  EXPECT_EQ(u.event_type, "decision");
  EXPECT_EQ(u.data, R"({"hook_event_name":"TaskCreated","task":{"id":1}})");
  EXPECT_FALSE(ConvertHookInput("Stop", "[1]", 0, "x").ok());
  EXPECT_FALSE(ConvertHookInput("Stop", "{\"a\":", 0, "x").ok());
}

TEST(ClaudeHookTest, AFieldOverTheCapIsCutAndMarked) {
  HookOptions o;
  o.max_field_bytes = 64;
  const std::string big(500, 'z');
  const HookEvent e = Convert("PostToolUse",
                              R"({"session_id":"s","tool_use_id":"t","tool_response":{"stdout":")" + big + R"("}})", o);
  EXPECT_TRUE(absl::StrContains(e.data, R"("truncated":true,"result_bytes":513)")) << e.data;
  EXPECT_LT(e.data.size(), 250u) << e.data;
  // Non-ASCII is written as Python does (\u escapes), so any cut is whole characters.
  EXPECT_TRUE(absl::StrContains(
      Convert("UserPromptSubmit", "{\"session_id\":\"s\",\"prompt\":\"caf\xc3\xa9\"}").data,
      R"("prompt":"caf\u00e9")"));
}

}  // namespace
}  // namespace tracelog
