#ifndef TRACELOG_ENGINE_QUERY_EVENT_MATCH_H_
#define TRACELOG_ENGINE_QUERY_EVENT_MATCH_H_

// Filters on what an event says, applied to each event the index lets
// through (a Query prunes first; an EventMatcher looks at the bytes after):
//
//   --grep REGEX        RE2 (partial match) over the event's stored bytes,
//                       or with --grep-field PATH over that field's value
//                       (a string's text, unescaped; anything else as
//                       minified JSON). Several: every one must match.
//   --where PATH=VALUE  the value at PATH equals VALUE, type and all: VALUE
//                       is read as JSON when it is JSON (1, 1.5, true, null,
//                       "1", {"a":1}) and as a string otherwise (Bash), so
//                       `exit_code=1` matches the number and `x="1"` the
//                       string. Numbers compare by value (1 = 1.0); objects
//                       and arrays by their minified text. Several: all.
//   --model NAME        data.model is the string NAME (any of several).
//
// PATH: keys joined by dots, an array index as a number (data.args.0), or
// a JSON pointer when it starts with '/' (for keys holding dots).
//
//   auto m = EventMatcher::Create(filters);   // InvalidArgument names the flag
//   if (m->Matches(event)) ...

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tracelog {

struct ContentFilters {
  std::vector<std::string> greps;   // RE2 patterns
  std::string grep_field;           // PATH; "": the whole event
  std::vector<std::string> wheres;  // PATH=VALUE
  std::vector<std::string> models;  // data.model values (comma-separated lists too)
  bool empty() const { return greps.empty() && wheres.empty() && models.empty(); }
};

// Not thread-safe (it keeps a JSON parser); one per thread.
class EventMatcher {
 public:
  // InvalidArgumentError naming the flag for a bad pattern, PATH or clause.
  static absl::StatusOr<std::unique_ptr<EventMatcher>> Create(const ContentFilters& filters);
  ~EventMatcher();
  EventMatcher(const EventMatcher&) = delete;
  EventMatcher& operator=(const EventMatcher&) = delete;

  // Whether `event` passes every filter. An event that is not JSON passes
  // only filters that need no field (--grep without --grep-field).
  bool Matches(absl::string_view event);

 private:
  struct Impl;
  explicit EventMatcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_QUERY_EVENT_MATCH_H_
