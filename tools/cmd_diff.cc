// tracelog diff A B: two sessions compared by structure: their tool calls
// aligned (longest common subsequence of tool names), the first place they
// diverge, the calls whose arguments or results differ, and the counts and
// durations side by side. Exit 0 when they are structurally the same, 1
// when not (as diff(1)).

#include <simdjson.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/ndjson/pyjson.h"
#include "engine/query/query.h"
#include "tools/cli.h"
#include "tools/pager.h"
#include "tools/views.h"

namespace tracelog::cli {
namespace {

struct DiffFlags {
  bool no_pager = false;
  std::string dir;
  std::string a, b;
  std::string format;
};

struct Call {
  std::string tool, args, result;
  bool failed = false;
  double ms = -1;
};

struct Side {
  std::string id;
  std::vector<Call> calls;
  uint64_t events = 0, errors = 0, llm = 0;
  double first = 0, last = 0;
};

absl::StatusOr<Side> Load(QueryEngine* engine, const std::string& arg) {
  Side s;
  auto id = ResolveSessionArg(engine, arg);
  if (!id.ok()) return id.status();
  s.id = *id;
  Query q;
  q.sessions = {s.id};
  simdjson::dom::parser parser;
  std::map<std::string, size_t> call_at;  // event_id -> index in calls
  auto n = engine->Run(q, [&](uint64_t, absl::string_view event) {
    simdjson::dom::element e;
    if (parser.parse(event.data(), event.size()).get(e) != simdjson::SUCCESS) return true;
    std::string_view type, v;
    if (e["event_type"].get_string().get(type) != simdjson::SUCCESS) return true;
    double ts = 0;
    if (e["timestamp"].get_double().get(ts) == simdjson::SUCCESS) {
      if (s.events == 0) s.first = ts;
      s.last = ts;
    }
    ++s.events;
    s.errors += type == "error";
    s.llm += type == "llm_request";
    if (type == "tool_call") {
      Call c;
      if (e["data"]["tool_name"].get_string().get(v) == simdjson::SUCCESS) c.tool = std::string(v);
      simdjson::dom::element args;
      if (e["data"]["arguments"].get(args) == simdjson::SUCCESS) c.args = simdjson::minify(args);
      if (e["event_id"].get_string().get(v) == simdjson::SUCCESS) call_at[std::string(v)] = s.calls.size();
      s.calls.push_back(std::move(c));
    } else if ((type == "tool_result" || type == "error") &&
               e["parent_id"].get_string().get(v) == simdjson::SUCCESS) {
      auto it = call_at.find(std::string(v));
      if (it == call_at.end()) return true;
      Call& c = s.calls[it->second];
      simdjson::dom::element r;
      if (e["data"]["result"].get(r) == simdjson::SUCCESS ||
          e["data"]["content_preview"].get(r) == simdjson::SUCCESS ||
          e["data"]["error"].get(r) == simdjson::SUCCESS || e["data"]["message"].get(r) == simdjson::SUCCESS) {
        c.result = simdjson::minify(r);
      }
      c.failed = type == "error";
      double ms = 0;
      if (e["duration_ms"].get_double().get(ms) == simdjson::SUCCESS) c.ms = ms;
    }
    return true;
  });
  if (!n.ok()) return n.status();
  return s;
}

// One line of the alignment: a call of A, of B, or of both.
struct Pair {
  const Call* a = nullptr;
  const Call* b = nullptr;
  bool same() const {
    return a != nullptr && b != nullptr && a->args == b->args && a->result == b->result &&
           a->failed == b->failed;
  }
};

// The longest common subsequence of the tool names, as pairs in order.
std::vector<Pair> Align(const std::vector<Call>& a, const std::vector<Call>& b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<uint32_t>> l(n + 1, std::vector<uint32_t>(m + 1, 0));
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      l[i][j] = a[i].tool == b[j].tool ? l[i + 1][j + 1] + 1 : std::max(l[i + 1][j], l[i][j + 1]);
    }
  }
  std::vector<Pair> out;
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i].tool == b[j].tool) {
      out.push_back(Pair{&a[i++], &b[j++]});
    } else if (j == m || (i < n && l[i + 1][j] >= l[i][j + 1])) {
      out.push_back(Pair{&a[i++], nullptr});
    } else {
      out.push_back(Pair{nullptr, &b[j++]});
    }
  }
  return out;
}

std::string Ms(double ms) { return ms < 0 ? "-" : HumanDuration(ms); }

std::string Short(const std::string& s) { return s.size() <= 100 ? s : s.substr(0, 97) + "..."; }

void AppendTable(const Side& a, const Side& b, const std::vector<Pair>& pairs, int first,
                 std::string* out) {
  absl::StrAppend(out, "A: ", a.id, "\nB: ", b.id, "\n\n");
  absl::StrAppend(out, absl::StrFormat("%-12s %12s %12s\n", "", "A", "B"));
  auto row = [&](const char* what, const std::string& x, const std::string& y) {
    absl::StrAppend(out, absl::StrFormat("%-12s %12s %12s\n", what, x, y));
  };
  row("events", absl::StrCat(a.events), absl::StrCat(b.events));
  row("tool calls", absl::StrCat(a.calls.size()), absl::StrCat(b.calls.size()));
  row("llm calls", absl::StrCat(a.llm), absl::StrCat(b.llm));
  row("errors", absl::StrCat(a.errors), absl::StrCat(b.errors));
  row("duration", HumanDuration((a.last - a.first) * 1000), HumanDuration((b.last - b.first) * 1000));
  absl::StrAppend(out, "\n");
  if (first < 0) {
    absl::StrAppend(out, "The tool calls are the same (tools, arguments, results).\n");
    return;
  }
  absl::StrAppend(out, "First divergence at tool call ", first + 1, ".\n\n");
  for (size_t k = 0; k < pairs.size(); ++k) {
    const Pair& p = pairs[k];
    if (p.a && p.b && p.same()) {
      absl::StrAppend(out, "  ", p.a->tool, "  (", Ms(p.a->ms), " | ", Ms(p.b->ms), ")\n");
    } else if (p.a && p.b) {
      absl::StrAppend(out, "~ ", p.a->tool, "  (", Ms(p.a->ms), " | ", Ms(p.b->ms), ")\n");
      if (p.a->args != p.b->args) {
        absl::StrAppend(out, "    args   A: ", Short(p.a->args), "\n           B: ", Short(p.b->args), "\n");
      }
      if (p.a->result != p.b->result || p.a->failed != p.b->failed) {
        absl::StrAppend(out, "    result A: ", p.a->failed ? "error " : "", Short(p.a->result),
                        "\n           B: ", p.b->failed ? "error " : "", Short(p.b->result), "\n");
      }
    } else if (p.a) {
      absl::StrAppend(out, "- ", p.a->tool, "  (only in A) ", Short(p.a->args), "\n");
    } else {
      absl::StrAppend(out, "+ ", p.b->tool, "  (only in B) ", Short(p.b->args), "\n");
    }
  }
}

void AppendJson(const Side& a, const Side& b, const std::vector<Pair>& pairs, int first,
                std::string* out) {
  auto side = [&](const Side& s) {
    std::string j = "{\"session_id\":";
    AppendPyJsonString(&j, s.id);
    absl::StrAppend(&j, ",\"events\":", s.events, ",\"tool_calls\":", s.calls.size(),
                    ",\"llm_calls\":", s.llm, ",\"errors\":", s.errors, ",\"duration_ms\":");
    AppendPyFloat(&j, (s.last - s.first) * 1000);
    return j + "}";
  };
  absl::StrAppend(out, "{\"a\":", side(a), ",\"b\":", side(b), ",\"same\":", first < 0 ? "true" : "false",
                  ",\"first_divergence\":", first < 0 ? "null" : absl::StrCat(first + 1), ",\"calls\":[");
  for (size_t k = 0; k < pairs.size(); ++k) {
    const Pair& p = pairs[k];
    const char* op = p.a && p.b ? (p.same() ? "same" : "changed") : p.a ? "only_a" : "only_b";
    absl::StrAppend(out, k == 0 ? "" : ",", "{\"op\":\"", op, "\",\"tool\":");
    AppendPyJsonString(out, p.a ? p.a->tool : p.b->tool);
    absl::StrAppend(out, "}");
  }
  absl::StrAppend(out, "]}\n");
}

int RunDiff(const DiffFlags& f) {
  auto log = OpenLog(f.dir, /*read_only=*/true);
  if (!log.ok()) {
    PrintError(log.status());
    return kExitError;
  }
  QueryEngine engine(log->get());
  auto a = Load(&engine, f.a);
  auto b = a.ok() ? Load(&engine, f.b) : a.status();
  if (!b.ok()) {
    PrintError(b.status());
    return kExitError;
  }
  const std::vector<Pair> pairs = Align(a->calls, b->calls);
  int first = -1;
  for (size_t k = 0; k < pairs.size() && first < 0; ++k) {
    if (!pairs[k].same()) first = static_cast<int>(k);
  }
  std::string text;
  if (ChosenFormat(f.format) == OutputFormat::kTable) {
    AppendTable(*a, *b, pairs, first, &text);
  } else {
    AppendJson(*a, *b, pairs, first, &text);
  }
  auto pager = Pager::Start(f.no_pager);
  StdoutWriter out;
  out.Write(text);
  out.Flush();
  if (!out.ok() && !out.broken_pipe()) return kExitError;
  return first < 0 ? kExitOk : kExitNegative;
}

}  // namespace

Command RegisterDiff(CLI::App& app) {
  auto f = std::make_shared<DiffFlags>();
  CLI::App* sub = app.add_subcommand(
      "diff",
      "Compare two sessions by structure: their tool calls aligned by tool name (longest\n"
      "common subsequence), the first divergence, calls whose arguments or results differ,\n"
      "calls only one has, and events, tool calls, LLM calls, errors and duration side by side.\n"
      "Exit 0 when the tool calls are the same, 1 when they differ, 2 on error.");
  AddLogOption(sub, &f->dir);
  AddNoPagerOption(sub, &f->no_pager);
  sub->add_option("a", f->a, "First session (id, unambiguous prefix, or 'latest')")->required();
  sub->add_option("b", f->b, "Second session")->required();
  AddFormatOption(sub, &f->format, "table|json");
  return {sub, [f] { return RunDiff(*f); }};
}

}  // namespace tracelog::cli
