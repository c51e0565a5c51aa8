#ifndef TRACELOG_TOOLS_PAGER_H_
#define TRACELOG_TOOLS_PAGER_H_

// A pager for the views' human output, where git would use one: only when
// stdout is a terminal and --no-pager is not given. The program is
// $TRACELOG_PAGER, else $PAGER, else `less` (with LESS=FRX when LESS is
// unset: it quits at once when the output fits on one screen and keeps
// colours); "" or "cat" means none. It is split on spaces and run without a
// shell. Standard output then goes to the pager; the Pager's destructor
// closes it and waits for the pager to exit, so declare it before the
// StdoutWriter that writes the output.

#include <sys/types.h>

#include <memory>

namespace CLI {
class App;
}

namespace tracelog::cli {

class Pager {
 public:
  // nullptr when no pager runs (not a terminal, --no-pager, none found).
  static std::unique_ptr<Pager> Start(bool no_pager);
  ~Pager();
  Pager(const Pager&) = delete;
  Pager& operator=(const Pager&) = delete;

 private:
  explicit Pager(pid_t pid) : pid_(pid) {}
  const pid_t pid_;
};

// --no-pager.
void AddNoPagerOption(CLI::App* sub, bool* no_pager);

}  // namespace tracelog::cli

#endif  // TRACELOG_TOOLS_PAGER_H_
