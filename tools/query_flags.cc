#include "tools/query_flags.h"

#include <CLI/CLI.hpp>

namespace tracelog::cli {

void AddQueryFilterOptions(CLI::App* sub, QueryFilterFlags* f) {
  sub->add_option("--session", f->sessions, "Session id, or an unambiguous prefix of one")
      ->type_name("ID,..")
      ->allow_extra_args(false);
  sub->add_option("--type", f->types, "event_type (session_start, tool_call, error, ...)")
      ->type_name("T,..")
      ->allow_extra_args(false);
  sub->add_option("--tool", f->tools, "data.tool_name (Bash, Read, ...)")
      ->type_name("NAME,..")
      ->allow_extra_args(false);
  sub->add_flag("--error", f->error, "Only errors (event_type error, or data.error/is_error set)");
  sub->add_option("--agent", f->agents, "Agent name of the session (from its session_start)")
      ->type_name("NAME,..")
      ->allow_extra_args(false);
  sub->add_option("--since", f->since, "Events with timestamp >= TIME")->type_name("TIME");
  sub->add_option("--until", f->until, "Events with timestamp < TIME")->type_name("TIME");
}

void AddContentFilterOptions(CLI::App* sub, ContentFilters* f) {
  sub->add_option("--grep", f->greps,
                  "Events whose bytes match this RE2 regex (partial match; repeat: all must)")
      ->type_name("REGEX")
      ->allow_extra_args(false);
  sub->add_option("--grep-field", f->grep_field,
                  "Match --grep against this field's value instead (a string's text, else its\n"
                  "JSON): data.result, data.arguments.command, /data/a.b (a JSON pointer)")
      ->type_name("PATH");
  sub->add_option("--where", f->wheres,
                  "Events whose field at PATH equals VALUE, type-aware: data.exit_code=1 is the\n"
                  "number, 'data.x=\"1\"' the string, data.tool_name=Bash a string (not JSON);\n"
                  "numbers by value, objects by their minified JSON (repeat: all must)")
      ->type_name("PATH=VALUE")
      ->allow_extra_args(false);
  sub->add_option("--model", f->models, "Events whose data.model is NAME (LLM requests, responses)")
      ->type_name("NAME,..")
      ->allow_extra_args(false);
}

}  // namespace tracelog::cli
