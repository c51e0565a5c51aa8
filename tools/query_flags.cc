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

}  // namespace tracelog::cli
