// tracelog tree SESSION: the session and its sub-agents (sessions whose
// parent_session_id names it), recursively, with their counts; from the
// session catalog.

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "engine/ndjson/pyjson.h"
#include "engine/query/query.h"
#include "tools/cli.h"
#include "tools/pager.h"
#include "tools/views.h"

namespace tracelog::cli {
namespace {

struct TreeFlags {
  bool no_pager = false;
  std::string dir;
  std::string session;
  std::string format;
};

struct Node {
  const CatalogEntry* e;
  int depth;
  std::string prefix;  // the tree's drawing before the id (table)
};

// Depth first, children by id; a session met twice (parent links that make
// a cycle) is listed once.
void Walk(const CatalogEntry* e, int depth, const std::string& lead, bool last,
          const std::multimap<std::string, const CatalogEntry*>& children,
          std::set<std::string>* seen, std::vector<Node>* out) {
  if (!seen->insert(e->id).second) return;
  out->push_back(Node{e, depth, depth == 0 ? "" : lead + (last ? "└─ " : "├─ ")});
  const std::string next = depth == 0 ? "" : lead + (last ? "   " : "│  ");
  auto [from, to] = children.equal_range(e->id);
  for (auto it = from; it != to; ++it) {
    Walk(it->second, depth + 1, next, std::next(it) == to, children, seen, out);
  }
}

// `error` events, as `list` counts them (agent-strace's count).
uint64_t ErrorEvents(const CatalogEntry& e) {
  return e.Count("error");
}

void AppendNode(const Node& n, OutputFormat format, std::string* out) {
  const CatalogEntry& e = *n.e;
  if (format == OutputFormat::kTable) {
    absl::StrAppend(out, n.prefix, e.id, e.agent.empty() ? "" : "  (" + e.agent + ")", "  events ",
                    e.events, ", tool calls ", e.tool_calls, ", errors ", ErrorEvents(e), "\n");
    return;
  }
  *out += "{\"session_id\":";
  AppendPyJsonString(out, e.id);
  *out += ",\"parent_session_id\":";
  AppendPyJsonString(out, e.parent);
  absl::StrAppend(out, ",\"depth\":", n.depth, ",\"agent\":");
  AppendPyJsonString(out, e.agent);
  absl::StrAppend(out, ",\"events\":", e.events, ",\"tool_calls\":", e.tool_calls,
                  ",\"errors\":", ErrorEvents(e), "}\n");
}

int RunTree(const TreeFlags& f) {
  auto log = OpenLog(f.dir, /*read_only=*/true);
  if (!log.ok()) {
    PrintError(log.status());
    return kExitError;
  }
  QueryEngine engine(log->get());
  auto id = ResolveSessionArg(&engine, f.session);
  auto catalog = id.ok() ? engine.Catalog() : id.status();
  if (!catalog.ok()) {
    PrintError(catalog.status());
    return kExitError;
  }
  std::multimap<std::string, const CatalogEntry*> children;
  const CatalogEntry* root = nullptr;
  for (const CatalogEntry& e : *catalog) {
    if (!e.parent.empty()) children.emplace(e.parent, &e);
    if (e.id == *id) root = &e;
  }
  if (root == nullptr) {
    PrintError(absl::StrCat("no session '", *id, "' in the catalog"));
    return kExitError;
  }
  std::vector<Node> nodes;
  std::set<std::string> seen;
  Walk(root, 0, "", true, children, &seen, &nodes);
  const OutputFormat format =
      ChosenFormat(f.format) == OutputFormat::kTable ? OutputFormat::kTable : OutputFormat::kNdjson;
  std::string text;
  for (const Node& n : nodes) AppendNode(n, format, &text);
  auto pager = Pager::Start(f.no_pager);
  StdoutWriter out;
  out.Write(text);
  out.Flush();
  return !out.ok() && !out.broken_pipe() ? kExitError : kExitOk;
}

}  // namespace

Command RegisterTree(CLI::App& app) {
  auto f = std::make_shared<TreeFlags>();
  CLI::App* sub = app.add_subcommand(
      "tree",
      "Show a session and its sub-agents (sessions whose parent_session_id names it),\n"
      "recursively, with their events, tool calls and errors. A drawn tree on a terminal;\n"
      "NDJSON when piped (session_id, parent_session_id, depth, agent, events, tool_calls,\n"
      "errors), depth first.");
  AddLogOption(sub, &f->dir);
  AddNoPagerOption(sub, &f->no_pager);
  sub->add_option("session", f->session, "Session id, an unambiguous prefix, or 'latest'")
      ->required();
  AddFormatOption(sub, &f->format, "table|ndjson");
  return {sub, [f] { return RunTree(*f); }};
}

}  // namespace tracelog::cli
