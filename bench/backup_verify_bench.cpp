// backup_verify_bench: how fast, and in how much memory, caloria verifies a
// large gzipped pg_dump, next to the tools an operator would otherwise use.
//
//   backup_verify_bench [--dir DIR] [--size-mb N] [--small-mb N] [--runs N]
//
// Generates (once; cached in DIR, default /tmp) a synthetic plain-SQL
// pg_dump of about N MiB uncompressed (default 1024) with one big users COPY
// block, gzipped at level 6 by streaming through zlib. Then runs, each in a
// process of its own so that neither wall time nor peak RSS mix:
//   (a) caloria's VerifyGzipDump        (this program, re-executed)
//   (b) gzip -t FILE                    (the seed's integrity check)
//   (c) gzip -dc FILE | grep -cF ...    (decompress and count rows)
//   (d) zcat FILE > /dev/null           (decompress only)
// `runs` times each (interleaved), and prints the medians. Peak RSS is the
// child's ru_maxrss from wait4(); for the pipeline it is the sum of both
// processes' peaks (they run side by side). Finally (a) runs on a smaller
// dump (default 100 MiB) to show that its memory does not grow with size.
//
// Not part of CI or ctest: see bench/README.md.

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "collectors/backup/backup_verifier.h"
#include "core/deadline.h"

namespace {

constexpr const char* kRowMarker = "@example.com";

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "backup_verify_bench: %s\n", message.c_str());
  std::exit(1);
}

// ---- the synthetic dump -----------------------------------------------------------

// xorshift64*: fast, deterministic, good enough for filler data.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed ? seed : 1) {}
  std::uint64_t Next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1DULL;
  }

 private:
  std::uint64_t state_;
};

// Deflates into a FILE*, gzip wrapper, in fixed-size pieces: nothing but
// one input and one output buffer is ever held in memory.
class GzipWriter {
 public:
  GzipWriter(const std::string& path, int level) : path_(path) {
    file_ = std::fopen(path.c_str(), "wb");
    if (!file_) Die("cannot create " + path + ": " + std::strerror(errno));
    if (deflateInit2(&stream_, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      Die("deflateInit2 failed");
    }
  }
  ~GzipWriter() {
    deflateEnd(&stream_);
    if (file_) std::fclose(file_);
  }
  GzipWriter(const GzipWriter&) = delete;
  GzipWriter& operator=(const GzipWriter&) = delete;

  void Write(const std::string& data) { Deflate(data, Z_NO_FLUSH); }
  void Finish(const std::string& data) {
    Deflate(data, Z_FINISH);
    if (std::fclose(file_) != 0) Die("cannot write " + path_ + ": " + std::strerror(errno));
    file_ = nullptr;
  }

 private:
  void Deflate(const std::string& data, int flush) {
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    stream_.avail_in = static_cast<uInt>(data.size());
    int rc = Z_OK;
    do {
      stream_.next_out = out_;
      stream_.avail_out = sizeof out_;
      rc = deflate(&stream_, flush);
      if (rc == Z_STREAM_ERROR) Die("deflate failed");
      const std::size_t have = sizeof out_ - stream_.avail_out;
      if (have && std::fwrite(out_, 1, have, file_) != have) {
        Die("cannot write " + path_ + ": " + std::strerror(errno));
      }
    } while (stream_.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  }

  std::string path_;
  std::FILE* file_ = nullptr;
  z_stream stream_{};
  unsigned char out_[256 * 1024];
};

struct DumpInfo {
  std::string path;
  std::uint64_t uncompressed_bytes = 0;
  std::uint64_t compressed_bytes = 0;
  std::uint64_t users = 0;
};

std::uint64_t FileSize(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) return 0;
  return static_cast<std::uint64_t>(info.st_size);
}

// A dump like pg_dump's: header, a small meals table, then `target_bytes`
// worth of users rows, then the closing marker.
DumpInfo GenerateDump(const std::string& path, std::uint64_t target_bytes) {
  static const char* const kNames[] = {"Ada",    "Grace", "Alan",   "Edsger", "Barbara",
                                       "Donald", "Ken",   "Dennis", "Radia",  "Frances"};
  const std::string temp = path + ".partial";
  GzipWriter writer(temp, 6);
  Random random(20250724);
  DumpInfo info;
  info.path = path;
  std::string buffer =
      "--\n-- PostgreSQL database dump\n--\n\n"
      "-- Dumped from database version 16.4\n-- Dumped by pg_dump version 16.4\n\n"
      "SET statement_timeout = 0;\nSET client_encoding = 'UTF8';\n\n"
      "CREATE TABLE public.users (\n    id integer NOT NULL,\n    email text NOT NULL,\n"
      "    name text,\n    created_at timestamp with time zone,\n"
      "    daily_calorie_goal integer,\n    active boolean\n);\n\n"
      "COPY public.meals (id, user_id, name, calories) FROM stdin;\n"
      "1\t1\tporridge\t350\n2\t1\tsoup\t220\n\\.\n\n"
      "COPY public.users (id, email, name, created_at, daily_calorie_goal, active) FROM stdin;\n";
  constexpr std::size_t kFlushAt = 1 << 20;
  char row[256];
  while (info.uncompressed_bytes + buffer.size() < target_bytes) {
    ++info.users;
    const std::uint64_t r = random.Next();
    const int length =
        std::snprintf(row, sizeof row,
                      "%" PRIu64 "\tuser%" PRIu64 ".%08" PRIx64
                      "%s\t%s %c.\t2025-%02d-%02d %02d:%02d:%02d.%06d+00"
                      "\t%d\t%c\n",
                      info.users, info.users, static_cast<std::uint64_t>(r & 0xffffffffU),
                      kRowMarker, kNames[(r >> 32) % 10], static_cast<char>('A' + (r >> 36) % 26),
                      static_cast<int>(1 + (r >> 40) % 12), static_cast<int>(1 + (r >> 44) % 28),
                      static_cast<int>((r >> 49) % 24), static_cast<int>((r >> 54) % 60),
                      static_cast<int>((r >> 20) % 60), static_cast<int>(r % 1000000),
                      static_cast<int>(1500 + (r >> 8) % 1500), (r >> 60) % 5 ? 't' : 'f');
    buffer.append(row, static_cast<std::size_t>(length));
    if (buffer.size() >= kFlushAt) {
      info.uncompressed_bytes += buffer.size();
      writer.Write(buffer);
      buffer.clear();
    }
  }
  buffer += "\\.\n\n--\n-- PostgreSQL database dump complete\n--\n\n";
  info.uncompressed_bytes += buffer.size();
  writer.Finish(buffer);
  if (std::rename(temp.c_str(), path.c_str()) != 0) Die("cannot rename " + temp);
  info.compressed_bytes = FileSize(path);
  return info;
}

// Reuses a dump generated earlier when its sidecar (written last) matches.
DumpInfo CachedDump(const std::string& dir, std::uint64_t size_mb) {
  const std::string path = dir + "/caloria_bench_" + std::to_string(size_mb) + "MiB.sql.gz";
  const std::string sidecar = path + ".info";
  DumpInfo info;
  info.path = path;
  {
    std::ifstream in(sidecar);
    if (in >> info.uncompressed_bytes >> info.compressed_bytes >> info.users &&
        FileSize(path) == info.compressed_bytes && info.compressed_bytes > 0) {
      std::printf("using the cached %s\n", path.c_str());
      return info;
    }
  }
  std::printf("generating %s (%" PRIu64 " MiB of SQL, gzip -6)...\n", path.c_str(), size_mb);
  std::fflush(stdout);
  const auto start = std::chrono::steady_clock::now();
  info = GenerateDump(path, size_mb * 1024 * 1024);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("  %" PRIu64 " rows, %.1f MiB -> %.1f MiB in %.1f s\n", info.users,
              info.uncompressed_bytes / 1048576.0, info.compressed_bytes / 1048576.0, seconds);
  std::ofstream out(sidecar, std::ios::trunc);
  out << info.uncompressed_bytes << ' ' << info.compressed_bytes << ' ' << info.users << '\n';
  return info;
}

// ---- running things in child processes ------------------------------------------

struct Run {
  double seconds = 0;
  double peak_rss_mb = 0;
  std::string output;  // the child's standard output, when captured
};

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<char*> Argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  return argv;
}

// Starts `args` with stdin from `in_fd` and stdout to `out_fd` (-1: keep).
pid_t Start(std::vector<std::string> args, int in_fd, int out_fd,
            const std::vector<int>& close_fds) {
  const pid_t pid = fork();
  if (pid < 0) Die(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    if (in_fd >= 0) dup2(in_fd, STDIN_FILENO);
    if (out_fd >= 0) dup2(out_fd, STDOUT_FILENO);
    for (const int fd : close_fds) close(fd);
    auto argv = Argv(args);
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "cannot run %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  return pid;
}

// Waits for `pid`; its own peak RSS (ru_maxrss, kB on Linux) in MiB.
double Reap(pid_t pid, const std::string& what) {
  int status = 0;
  struct rusage usage {};
  if (wait4(pid, &status, 0, &usage) != pid) Die("wait4 failed for " + what);
  // grep -c exits 1 when it counts 0 lines; anything else non-zero is a failure.
  if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && what != "grep")) {
    Die(what + " failed (status " + std::to_string(status) + ")");
  }
  return usage.ru_maxrss / 1024.0;
}

std::string ReadAll(int fd) {
  std::string text;
  char buffer[4096];
  ssize_t got;
  while ((got = read(fd, buffer, sizeof buffer)) > 0)
    text.append(buffer, static_cast<std::size_t>(got));
  return text;
}

// One process; stdout captured or sent to /dev/null.
Run RunOne(const std::vector<std::string>& args, bool capture) {
  int pipe_fds[2] = {-1, -1};
  int out_fd = -1;
  if (capture) {
    if (pipe(pipe_fds) != 0) Die("pipe failed");
    out_fd = pipe_fds[1];
  } else {
    out_fd = open("/dev/null", O_WRONLY);
  }
  Run run;
  const double start = Now();
  const pid_t pid =
      Start(args, -1, out_fd,
            capture ? std::vector<int>{pipe_fds[0], pipe_fds[1]} : std::vector<int>{out_fd});
  close(out_fd);
  if (capture) {
    run.output = ReadAll(pipe_fds[0]);
    close(pipe_fds[0]);
  }
  run.peak_rss_mb = Reap(pid, args[0]);
  run.seconds = Now() - start;
  return run;
}

// gzip -dc FILE | grep -cF MARKER: two processes side by side.
Run RunPipeline(const std::string& file) {
  int between[2];
  int result[2];
  if (pipe(between) != 0 || pipe(result) != 0) Die("pipe failed");
  Run run;
  const double start = Now();
  const pid_t gzip =
      Start({"gzip", "-dc", file}, -1, between[1], {between[0], between[1], result[0], result[1]});
  const pid_t grep = Start({"grep", "-cF", kRowMarker}, between[0], result[1],
                           {between[0], between[1], result[0], result[1]});
  close(between[0]);
  close(between[1]);
  close(result[1]);
  run.output = ReadAll(result[0]);
  close(result[0]);
  run.peak_rss_mb = Reap(gzip, "gzip") + Reap(grep, "grep");
  run.seconds = Now() - start;
  return run;
}

std::string self_path;

Run RunCaloria(const std::string& file) {
  return RunOne({self_path, "--child-verify", file}, true);
}
Run RunGzipTest(const std::string& file) { return RunOne({"gzip", "-t", file}, false); }
Run RunZcat(const std::string& file) { return RunOne({"zcat", file}, false); }

// The child side of (a): verify and report on stdout.
int ChildVerify(const std::string& file) {
  const auto result =
      caloria::VerifyGzipDump(file, "users", caloria::Deadline::After(std::chrono::hours(1)));
  std::printf("verified=%d users=%lld bytes=%llu error=%s\n", result.verified ? 1 : 0,
              result.users ? static_cast<long long>(*result.users) : -1LL,
              static_cast<unsigned long long>(result.uncompressed_bytes), result.error.c_str());
  return result.verified ? 0 : 1;
}

// ---- reporting --------------------------------------------------------------------

struct Tool {
  std::string name;
  Run (*run)(const std::string&);
  std::vector<Run> runs;
};

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string MachineLine() {
  std::string cpu = "unknown CPU";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      cpu = Trim(line.substr(line.find(':') + 2));
      break;
    }
  }
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d", std::localtime(&now));
  std::ostringstream out;
  std::string load;
  std::ifstream loadavg("/proc/loadavg");
  std::getline(loadavg, load);
  out << date << ", " << std::thread::hardware_concurrency() << " cores (" << cpu << "), zlib "
      << zlibVersion() << ", load average " << load.substr(0, load.find(' ', 10));
  return out.str();
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp";
  std::uint64_t size_mb = 1024;
  std::uint64_t small_mb = 100;
  int runs = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) Die(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--child-verify") return ChildVerify(value());
    if (arg == "--dir") {
      dir = value();
    } else if (arg == "--size-mb") {
      size_mb = std::stoull(value());
    } else if (arg == "--small-mb") {
      small_mb = std::stoull(value());
    } else if (arg == "--runs") {
      runs = std::max(1, std::stoi(value()));
    } else if (arg == "-h" || arg == "--help") {
      std::printf(
          "usage: backup_verify_bench [--dir DIR] [--size-mb N] [--small-mb N] [--runs N]\n");
      return 0;
    } else {
      Die("unknown argument " + arg + " (see --help)");
    }
  }
  char resolved[4096];
  const ssize_t length = readlink("/proc/self/exe", resolved, sizeof resolved - 1);
  if (length <= 0) Die("cannot find /proc/self/exe");
  self_path.assign(resolved, static_cast<std::size_t>(length));

  std::printf("%s\n", MachineLine().c_str());
  const DumpInfo big = CachedDump(dir, size_mb);
  const DumpInfo small = CachedDump(dir, small_mb);
  const double compressed_mb = big.compressed_bytes / 1048576.0;
  std::printf("big dump: %.1f MiB of SQL, %.1f MiB gzipped, %" PRIu64 " users rows\n",
              big.uncompressed_bytes / 1048576.0, compressed_mb, big.users);

  std::vector<Tool> tools = {
      {"caloria VerifyGzipDump", RunCaloria, {}},
      {"gzip -t", RunGzipTest, {}},
      {"gzip -dc | grep -cF", RunPipeline, {}},
      {"zcat > /dev/null", RunZcat, {}},
  };
  // Interleaved, so that a noisy moment hurts every tool alike. The first
  // pass also warms the page cache for all (the file fits in RAM).
  for (int run = 0; run < runs; ++run) {
    for (auto& tool : tools) {
      tool.runs.push_back(tool.run(big.path));
      std::printf("  run %d %-24s %7.2f s %7.1f MiB  %s\n", run + 1, tool.name.c_str(),
                  tool.runs.back().seconds, tool.runs.back().peak_rss_mb,
                  Trim(tool.runs.back().output).c_str());
      std::fflush(stdout);
    }
  }
  // Sanity: caloria must have verified the dump, and every tool that counts
  // must have counted every row.
  const std::string caloria_said = Trim(tools[0].runs.back().output);
  if (caloria_said.rfind("verified=1 ", 0) != 0) Die("caloria did not verify: " + caloria_said);
  const std::string users = "users=" + std::to_string(big.users) + " ";
  if (caloria_said.find(users) == std::string::npos) {
    std::printf("WARNING: caloria counted other than %" PRIu64 " users rows: %s\n", big.users,
                caloria_said.c_str());
  }
  if (Trim(tools[2].runs.back().output) != std::to_string(big.users)) {
    std::printf("WARNING: grep counted %s rows, not %" PRIu64 "\n",
                Trim(tools[2].runs.back().output).c_str(), big.users);
  }

  std::vector<double> seconds(tools.size());
  std::vector<double> rss(tools.size());
  for (std::size_t t = 0; t < tools.size(); ++t) {
    std::vector<double> s;
    std::vector<double> r;
    for (const auto& run : tools[t].runs) {
      s.push_back(run.seconds);
      r.push_back(run.peak_rss_mb);
    }
    seconds[t] = Median(s);
    rss[t] = Median(r);
  }
  std::printf("\n%s\n", MachineLine().c_str());
  std::printf("%.0f MiB of SQL (%" PRIu64 " users rows), %.1f MiB gzipped; median of %d runs\n\n",
              big.uncompressed_bytes / 1048576.0, big.users, compressed_mb, runs);
  std::printf(
      "| tool | seconds | MiB/s of gzip input | peak RSS MiB | time / gzip -t | RSS / gzip -t |\n");
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  for (std::size_t t = 0; t < tools.size(); ++t) {
    std::string name = tools[t].name;  // a '|' would end the Markdown cell
    for (std::size_t at = name.find('|'); at != std::string::npos; at = name.find('|', at + 2)) {
      name.replace(at, 1, "\\|");
    }
    std::printf("| %s | %.2f | %.1f | %.1f | %.2f | %.2f |\n", name.c_str(), seconds[t],
                compressed_mb / seconds[t], rss[t], seconds[t] / seconds[1], rss[t] / rss[1]);
  }

  // Flat memory: the same verification on the small and the big dump.
  std::vector<double> small_rss;
  std::vector<double> small_seconds;
  for (int run = 0; run < runs; ++run) {
    const Run r = RunCaloria(small.path);
    if (r.output.rfind("verified=1 ", 0) != 0) Die("caloria did not verify " + small.path);
    small_rss.push_back(r.peak_rss_mb);
    small_seconds.push_back(r.seconds);
  }
  std::printf("\nflat memory, caloria VerifyGzipDump (median of %d runs):\n\n", runs);
  std::printf("| dump (SQL / gzipped) | seconds | peak RSS MiB |\n|---|---:|---:|\n");
  std::printf("| %.0f MiB / %.1f MiB | %.2f | %.1f |\n", small.uncompressed_bytes / 1048576.0,
              small.compressed_bytes / 1048576.0, Median(small_seconds), Median(small_rss));
  std::printf("| %.0f MiB / %.1f MiB | %.2f | %.1f |\n", big.uncompressed_bytes / 1048576.0,
              compressed_mb, seconds[0], rss[0]);
  double growth = rss[0] - Median(small_rss);
  if (growth > -0.05 && growth < 0.05) growth = 0;  // print 0.0, not -0.0
  std::printf("\npeak RSS grows by %.1f MiB for %.0fx the data: %s\n", growth,
              static_cast<double>(big.uncompressed_bytes) / small.uncompressed_bytes,
              growth < 2.0 ? "flat" : "NOT FLAT");
  return 0;
}
