#include "engine/query/query_filters.h"

#include <utility>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "engine/query/query_time.h"

namespace tracelog {

namespace {

std::vector<std::string> SplitList(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const std::string& s : in) {
    for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipEmpty())) {
      out.emplace_back(part);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<Query> BuildQuery(const QueryFilters& f, QueryEngine* engine,
                                 const std::function<bool(const std::string&)>& exact) {
  const double now = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  Query q;
  q.types = SplitList(f.types);
  q.tools = SplitList(f.tools);
  q.agents = SplitList(f.agents);
  q.error = f.error;
  for (const auto& [text, out] : {std::pair{&f.since, &q.since}, std::pair{&f.until, &q.until}}) {
    if (text->empty()) continue;
    auto t = ParseQueryTime(*text, now);
    if (!t.ok()) return t.status();
    *out = *t;
  }
  // A name taken as it is: one `exact` accepts, else a full session id.
  auto named = [&](const std::string& s) {
    if (exact && exact(s)) return true;
    auto id = engine->ResolveSession(s);
    return id.ok() && *id == s;
  };
  for (const std::string& value : f.sessions) {
    // A whole value that names a session is that session, commas and all
    // (agent-strace ids may hold commas); else it is a list.
    const bool list = value.find(',') != std::string::npos && !named(value);
    for (const std::string& s : list ? SplitList({value}) : std::vector<std::string>{value}) {
      if (exact && exact(s)) {
        q.sessions.push_back(s);
        continue;
      }
      auto id = engine->ResolveSession(s);
      if (!id.ok()) return id.status();
      q.sessions.push_back(*id);
    }
  }
  return q;
}

}  // namespace tracelog
