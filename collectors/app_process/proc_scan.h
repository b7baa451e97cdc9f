#pragma once

#include <regex.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectors/app_process/proc_text.h"
#include "config/sqlalchemy_url.h"
#include "core/deadline.h"
#include "core/result.h"

namespace caloria {

// --app.process compiled with regcomp (POSIX extended, REG_NOSUB): never
// std::regex on another process's command line.
class ProcessPattern {
 public:
  // A pattern regcomp refuses, or one with a back-reference (\1 ... \9, which
  // glibc accepts and which can make matching slow), is an Error with the fix.
  static Result<ProcessPattern> Compile(const std::string& pattern);

  bool Matches(const std::string& cmdline) const;
  const std::string& text() const { return text_; }

 private:
  struct Free {
    void operator()(regex_t* regex) const {
      regfree(regex);
      delete regex;
    }
  };
  ProcessPattern(std::string text, std::unique_ptr<regex_t, Free> regex)
      : text_(std::move(text)), regex_(std::move(regex)) {}

  std::string text_;
  std::unique_ptr<regex_t, Free> regex_;
};

// How much of /proc one run may read.
struct ProcLimits {
  std::size_t max_entries = 32768;       // /proc/<pid> entries scanned for a pattern
  std::size_t max_processes = 64;        // matching processes inspected
  std::size_t max_fds = 4096;            // fd links read per process
  std::size_t max_environ = 256 * 1024;  // bytes of /proc/PID/environ
  std::size_t max_net_tcp = 4 << 20;     // bytes of /proc/PID/net/tcp and tcp6 each
};

// Where the app's database listens: connections to it are the evidence that
// the app is on PostgreSQL. A host name is not resolved: only the port is
// compared then.
struct DatabaseEndpoint {
  int port = 5432;
  std::optional<IpAddress> address;  // when the URL's host is an IP literal
  std::string host;                  // as written in the URL, for messages
};

// The processes matching `pattern` among /proc/<pid>/cmdline, ascending,
// skipping `self` and any process whose command line holds "--app.process"
// (another exporter, or the shell that started one, whose command line holds
// the pattern's own text) and those with an empty one (kernel threads,
// zombies). Stops at limits.max_entries entries, limits.max_processes matches
// or the deadline, saying so in `stopped`.
struct ProcessSearch {
  std::vector<int> pids;
  std::optional<std::string> stopped;
};
Result<ProcessSearch> FindProcesses(const std::string& proc_root, const ProcessPattern& pattern,
                                    int self, const ProcLimits& limits, const Deadline& deadline);

// The pid in a pid file (a decimal number, blanks around it), read up to 64
// bytes. An Error names the file and the fix.
Result<int> ReadPidFile(const std::string& path);

// What one process shows of its database.
struct ProcessFacts {
  int pid = 0;
  std::string program;  // argv[0], URL passwords as ***
  bool gone = false;    // it exited while being read
  // Why its environment or descriptors could not be read (permission); its
  // other facts are then unknown.
  std::optional<std::string> unreadable;

  bool has_database_url = false;             // a non-empty DATABASE_URL in its environment
  std::optional<DatabaseType> environ_type;  // that URL's type, when it parses
  std::string environ_url;                   // that URL redacted, or why it does not parse
  bool has_database_url_file = false;        // DATABASE_URL_FILE set (not followed)

  std::vector<std::string> sqlite_files;  // SQLite databases it holds open, sorted
  int connections = 0;                    // ESTABLISHED TCP connections to the database endpoint
  std::vector<std::string> limits_hit;    // e.g. "more than 4096 descriptors: the rest not read"
};

// Reads /proc/<pid>/{cmdline,environ,fd} and, when it holds sockets,
// /proc/<pid>/net/tcp and tcp6. A regular file it holds open is a SQLite
// database when its first 16 bytes are SQLite's magic, or, when those cannot
// be read (an empty file, just created; a file the exporter may not read),
// when its name ends .db, .sqlite or .sqlite3; -wal, -shm and -journal side
// files are left out.
ProcessFacts InspectProcess(const std::string& proc_root, int pid, const DatabaseEndpoint& endpoint,
                            const ProcLimits& limits, const Deadline& deadline);

}  // namespace caloria
