#include "tools/pager.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/str_split.h"
#include "tools/views.h"

extern char** environ;

namespace tracelog::cli {

std::unique_ptr<Pager> Pager::Start(bool no_pager) {
  if (no_pager || !StdoutIsTerminal()) return nullptr;
  const char* program = std::getenv("TRACELOG_PAGER");
  if (program == nullptr) program = std::getenv("PAGER");
  if (program == nullptr) program = "less";
  std::vector<std::string> argv_s = absl::StrSplit(program, ' ', absl::SkipWhitespace());
  if (argv_s.empty() || argv_s[0] == "cat") return nullptr;
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (std::getenv("LESS") == nullptr) ::setenv("LESS", "FRX", 1);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return nullptr;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[0], STDIN_FILENO);
  // tracelog ignores SIGPIPE (main.cc); the pager gets the default back.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[0]);
  if (rc != 0) {  // no such pager: the output goes to the terminal
    ::close(fds[1]);
    return nullptr;
  }
  ::dup2(fds[1], STDOUT_FILENO);
  ::close(fds[1]);
  // As git: Ctrl-C and Ctrl-\ are the pager's while it runs (less uses
  // them); tracelog must not die and leave it holding the terminal.
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGQUIT, SIG_IGN);
  return std::unique_ptr<Pager>(new Pager(pid));
}

Pager::~Pager() {
  std::fflush(stdout);
  ::close(STDOUT_FILENO);  // the pager sees the end of its input
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

void AddNoPagerOption(CLI::App* sub, bool* no_pager) {
  sub->add_flag("--no-pager", *no_pager,
                "Do not page the output (on a terminal it goes through $TRACELOG_PAGER, $PAGER\n"
                "or `less -FRX`, which quits at once when it fits on one screen)");
}

}  // namespace tracelog::cli
