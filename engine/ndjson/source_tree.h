#ifndef TRACELOG_ENGINE_NDJSON_SOURCE_TREE_H_
#define TRACELOG_ENGINE_NDJSON_SOURCE_TREE_H_

// The directory tree a directory import reads (an agent-strace trace
// directory): listed once by WalkSourceTree, then opened file by file, in
// the import's order, by a FileQueue.
//
// Every directory and file of the tree is opened through the file-system
// seam's Directory (engine/io/file_system.h), relative to its parent,
// without following a link, a file checked to be a regular one before it
// is read: a directory or file replaced by a symbolic link (or a FIFO, a
// device) after the walk is refused, never followed or waited on, so the
// import reads nothing from outside the tree.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/io/file_system.h"

namespace tracelog {

struct SourceFile {
  std::string rel;   // relative to the session directory (or the root)
  std::string below;  // relative to the root of the tree: opened one component at a time
  std::string path;   // the root's path joined with `below`, for messages
  uint64_t size = 0;
};

struct SourceSession {
  std::string name;
  std::vector<SourceFile> files;  // events.ndjson among them, if present
};

struct SourceTree {
  std::unique_ptr<Directory> root;  // the directory given to the import
  std::vector<SourceSession> sessions;
  std::vector<SourceFile> root_files;
  uint64_t files = 0, bytes = 0;
};

// Lists the tree at `src` on `fs` (the one path followed as given: the
// operator names it), as FileQueue reads it. A directory of the
// root with a meta.json file is a session; the other files are the root's.
// Symbolic links and special files are not followed: they are noted in
// *problems.
absl::StatusOr<SourceTree> WalkSourceTree(FileSystem* fs, const std::string& src,
                                          std::vector<std::string>* problems);

// The files of an import in the order they are read, each opened a little
// ahead of the reader with the kernel asked to read it in
// (SequentialFile::WillNeed): the disk reads the next files while the CPU parses
// this one (an import's input is rarely all in the page cache, and most of
// its files are small, so the kernel's read-ahead within a file does not
// help). Files are opened below the tree's root descriptor as described
// above.
class FileQueue {
 public:
  // `root`: the tree's root directory. It and the files of `order` must
  // outlive the queue.
  FileQueue(Directory* root, std::vector<const SourceFile*> order);

  // The next file of the order, opened.
  absl::StatusOr<std::unique_ptr<SequentialFile>> Next();

 private:
  static constexpr size_t kAheadFiles = 64;
  static constexpr uint64_t kAheadBytes = 32 << 20;
  struct Ahead {
    size_t index;
    std::unique_ptr<SequentialFile> file;
  };

  // Opens `f` one component at a time; a regular file or an error.
  absl::StatusOr<std::unique_ptr<SequentialFile>> Open(const SourceFile& f);
  // The directory `parent` (below the root), opened one component at a
  // time; the last one is kept, as consecutive files mostly share it.
  absl::StatusOr<Directory*> Dir(const std::string& parent);

  Directory* const root_;
  std::vector<const SourceFile*> order_;
  std::deque<Ahead> ahead_;
  size_t taken_ = 0, next_ = 0;
  uint64_t ahead_bytes_ = 0;
  std::string dir_;  // the directory dir_handle_ holds, below the root
  std::unique_ptr<Directory> dir_handle_;
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_NDJSON_SOURCE_TREE_H_
