#include "collectors/app_process/proc_scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <set>

#include "core/unique_handles.h"

namespace caloria {
namespace {

constexpr std::size_t kMaxPatternBytes = 1024;
constexpr std::size_t kMaxPidFileBytes = 64;
constexpr std::string_view kDeletedSuffix = " (deleted)";

struct FileRead {
  std::string data;
  int error = 0;  // errno of the failed open or read; 0 when read
  bool truncated = false;
};

// At most `limit` bytes of a file; /proc files have no size to ask for first.
FileRead ReadBounded(const std::string& path, std::size_t limit) {
  FileRead out;
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    out.error = errno;
    return out;
  }
  char buffer[8192];
  while (out.data.size() <= limit) {
    const std::size_t want = std::min(sizeof buffer, limit + 1 - out.data.size());
    const ssize_t got = ::read(fd.get(), buffer, want);
    if (got < 0) {
      if (errno == EINTR) continue;
      out.error = errno;
      return out;
    }
    if (got == 0) break;
    out.data.append(buffer, static_cast<std::size_t>(got));
  }
  if (out.data.size() > limit) {
    out.data.resize(limit);
    out.truncated = true;
  }
  return out;
}

// The process has exited (or its pid was never there).
bool Gone(int error) { return error == ENOENT || error == ESRCH; }

std::string Unreadable(const std::string& what, int pid, int error) {
  return "cannot read " + what + " of pid " + std::to_string(pid) + " (" + std::strerror(error) +
         ")";
}

std::string Trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return "";
  const auto end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(begin, end - begin + 1));
}

void ReadEnvironment(const std::string& text, ProcessFacts& facts) {
  const auto url = EnvironValue(text, "DATABASE_URL");
  // An empty value counts as unset, as the app's `os.getenv(...) or default`.
  if (url && !Trim(*url).empty()) {
    facts.has_database_url = true;
    const Result<SqlalchemyUrl> parsed = ParseSqlalchemyUrl(*url);
    if (parsed) {
      facts.environ_type = parsed->type;
      facts.environ_url = parsed->Redacted();
    } else {
      facts.environ_url = "unparsable: " + parsed.error();  // never holds the password
    }
  }
  const auto url_file = EnvironValue(text, "DATABASE_URL_FILE");
  facts.has_database_url_file = url_file && !Trim(*url_file).empty();
}

// Whether the regular file behind fd link `name` is a SQLite database.
bool IsSqliteDatabase(int fd_dir, const char* name, const std::string& path) {
  struct stat info {};
  if (fstatat(fd_dir, name, &info, 0) != 0 || !S_ISREG(info.st_mode)) return false;
  if (info.st_size >= 16) {
    const UniqueFd file(openat(fd_dir, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    char header[16];
    if (file.get() >= 0 && ::pread(file.get(), header, sizeof header, 0) == 16) {
      return HasSqliteHeader(std::string_view(header, sizeof header));
    }
  }
  return HasSqliteName(path);  // empty (just created) or not readable by the exporter
}

struct Descriptors {
  std::set<std::string> sqlite_files;
  std::set<std::uint64_t> socket_inodes;
};

void ReadDescriptors(DIR* dir, const ProcLimits& limits, const Deadline& deadline,
                     Descriptors& found, ProcessFacts& facts) {
  const int fd_dir = dirfd(dir);
  std::size_t seen = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    if (++seen > limits.max_fds) {
      facts.limits_hit.push_back("more than " + std::to_string(limits.max_fds) +
                                 " descriptors: the rest were not read");
      return;
    }
    if (deadline.Expired()) {
      facts.limits_hit.emplace_back("the deadline passed while reading its descriptors");
      return;
    }
    char buffer[4096];
    const ssize_t length = readlinkat(fd_dir, entry->d_name, buffer, sizeof buffer - 1);
    if (length <= 0) continue;
    const std::string link(buffer, static_cast<std::size_t>(length));
    if (const auto inode = SocketInode(link)) {
      found.socket_inodes.insert(*inode);
      continue;
    }
    if (link.front() != '/') continue;  // pipe:[...], anon_inode:...
    const std::string path =
        link.ends_with(kDeletedSuffix) ? link.substr(0, link.size() - kDeletedSuffix.size()) : link;
    if (IsSqliteSideFile(path)) continue;
    if (IsSqliteDatabase(fd_dir, entry->d_name, path)) found.sqlite_files.insert(link);
  }
}

int CountConnections(const std::string& base, const std::set<std::uint64_t>& inodes,
                     const DatabaseEndpoint& endpoint, const ProcLimits& limits,
                     ProcessFacts& facts) {
  int connections = 0;
  for (const char* table : {"tcp", "tcp6"}) {
    const FileRead read = ReadBounded(base + "/net/" + table, limits.max_net_tcp);
    if (read.error) continue;  // no IPv6 in this kernel, or the process is gone
    if (read.truncated) {
      facts.limits_hit.push_back(std::string("/proc/PID/net/") + table + " is larger than " +
                                 std::to_string(limits.max_net_tcp) +
                                 " bytes: sockets past that were not read");
    }
    for (const TcpSocket& socket : ParseProcNetTcp(read.data)) {
      if (socket.state == kTcpEstablished && socket.remote_port == endpoint.port &&
          inodes.count(socket.inode) && (!endpoint.address || socket.remote == *endpoint.address)) {
        ++connections;
      }
    }
  }
  return connections;
}

}  // namespace

Result<ProcessPattern> ProcessPattern::Compile(const std::string& pattern) {
  if (pattern.empty()) {
    return Fail(
        "--app.process is empty: give a pattern for the app's command line, e.g. "
        "gunicorn.*caloria");
  }
  if (pattern.size() > kMaxPatternBytes) {
    return Fail("--app.process is longer than " + std::to_string(kMaxPatternBytes) +
                " bytes: give a short pattern, e.g. gunicorn.*caloria");
  }
  for (std::size_t i = 0; i + 1 < pattern.size(); ++i) {
    if (pattern[i] == '\\' && pattern[i + 1] >= '1' && pattern[i + 1] <= '9') {
      return Fail("--app.process='" + pattern + "' has a back-reference (\\" + pattern[i + 1] +
                  "), which can make matching slow: write the pattern without one");
    }
    if (pattern[i] == '\\') ++i;  // an escaped backslash is not the start of one
  }
  auto regex = std::unique_ptr<regex_t, Free>(new regex_t{});
  const int rc = regcomp(regex.get(), pattern.c_str(), REG_EXTENDED | REG_NOSUB);
  if (rc != 0) {
    char message[256];
    regerror(rc, regex.get(), message, sizeof message);
    delete regex.release();  // regcomp failed: there is nothing to regfree
    return Fail("--app.process='" + pattern + "' is not a POSIX extended regular expression (" +
                message + "): e.g. gunicorn.*caloria");
  }
  return ProcessPattern(pattern, std::move(regex));
}

bool ProcessPattern::Matches(const std::string& cmdline) const {
  return regexec(regex_.get(), cmdline.c_str(), 0, nullptr, 0) == 0;
}

Result<ProcessSearch> FindProcesses(const std::string& proc_root, const ProcessPattern& pattern,
                                    int self, const ProcLimits& limits, const Deadline& deadline) {
  UniqueDir dir(opendir(proc_root.c_str()));
  if (!dir) {
    return Fail("cannot list " + proc_root + " (" + std::strerror(errno) +
                "): the process view needs procfs mounted there");
  }
  ProcessSearch search;
  std::size_t entries = 0;
  while (const dirent* entry = readdir(dir.get())) {
    int pid = 0;
    const char* name = entry->d_name;
    const char* end = name + std::strlen(name);
    const auto [stop, error] = std::from_chars(name, end, pid);
    if (error != std::errc() || stop != end || pid <= 0) continue;
    if (++entries > limits.max_entries) {
      search.stopped = "the scan of " + proc_root + " stopped after " +
                       std::to_string(limits.max_entries) +
                       " processes: give --app.pid-file instead";
      break;
    }
    if (deadline.Expired()) {
      search.stopped = "the scan of " + proc_root +
                       " ran out of time (--collector.timeout): give --app.pid-file instead";
      break;
    }
    if (pid == self) continue;
    const FileRead cmdline = ReadBounded(proc_root + "/" + name + "/cmdline", kMaxCmdlineBytes);
    if (cmdline.error) continue;
    const std::string text = CmdlineText(cmdline.data);
    if (text.empty() || text.find("--app.process") != std::string::npos) continue;
    if (!pattern.Matches(text)) continue;
    if (search.pids.size() == limits.max_processes) {
      search.stopped = "more than " + std::to_string(limits.max_processes) +
                       " processes match --app.process: only the first ones were read; make "
                       "the pattern narrower";
      break;
    }
    search.pids.push_back(pid);
  }
  std::sort(search.pids.begin(), search.pids.end());
  return search;
}

Result<int> ReadPidFile(const std::string& path) {
  const FileRead read = ReadBounded(path, kMaxPidFileBytes);
  if (read.error) {
    return Fail("cannot read the pid file " + path + " (" + std::strerror(read.error) +
                "): check --app.pid-file and that the exporter's user may read it");
  }
  const std::string text = Trim(read.data);
  int pid = 0;
  const auto [stop, error] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (read.truncated || text.empty() || error != std::errc() || stop != text.data() + text.size() ||
      pid <= 0) {
    return Fail("the pid file " + path +
                " does not hold a process id: point --app.pid-file at the file the app's "
                "server writes (gunicorn --pid)");
  }
  return pid;
}

ProcessFacts InspectProcess(const std::string& proc_root, int pid, const DatabaseEndpoint& endpoint,
                            const ProcLimits& limits, const Deadline& deadline) {
  ProcessFacts facts;
  facts.pid = pid;
  const std::string base = proc_root + "/" + std::to_string(pid);
  const FileRead cmdline = ReadBounded(base + "/cmdline", kMaxCmdlineBytes);
  if (cmdline.error) {
    facts.gone = Gone(cmdline.error);
    if (!facts.gone) facts.unreadable = Unreadable(base + "/cmdline", pid, cmdline.error);
    return facts;
  }
  facts.program = CmdlineProgram(cmdline.data);

  const FileRead environ = ReadBounded(base + "/environ", limits.max_environ);
  if (environ.error) {
    facts.gone = Gone(environ.error);
    if (!facts.gone) facts.unreadable = Unreadable(base + "/environ", pid, environ.error);
    return facts;
  }
  if (environ.truncated) {
    facts.limits_hit.push_back("its environment is larger than " +
                               std::to_string(limits.max_environ) +
                               " bytes: the rest was not read");
  }
  ReadEnvironment(environ.data, facts);

  UniqueDir fds(opendir((base + "/fd").c_str()));
  if (!fds) {
    const int error = errno;
    facts.gone = Gone(error);
    if (!facts.gone) facts.unreadable = Unreadable(base + "/fd", pid, error);
    return facts;
  }
  Descriptors found;
  ReadDescriptors(fds.get(), limits, deadline, found, facts);
  facts.sqlite_files.assign(found.sqlite_files.begin(), found.sqlite_files.end());
  if (!found.socket_inodes.empty()) {
    facts.connections = CountConnections(base, found.socket_inodes, endpoint, limits, facts);
  }
  return facts;
}

}  // namespace caloria
