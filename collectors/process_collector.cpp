#include "collectors/process_collector.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "core/unique_handles.h"

namespace caloria {
namespace {

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

double BootTime() {
  std::istringstream stat(ReadSmallFile("/proc/stat"));
  std::string key;
  double value = 0;
  while (stat >> key) {
    if (key == "btime" && stat >> value) return value;
    stat.ignore(1 << 16, '\n');
  }
  return 0;
}

double CountOpenFds(const std::string& proc_self) {
  UniqueDir dir(opendir((proc_self + "/fd").c_str()));
  if (!dir) return -1;
  double count = 0;
  while (const dirent* entry = readdir(dir.get())) {
    if (entry->d_name[0] != '.') ++count;
  }
  return count - 1;  // the descriptor opendir itself holds
}

// A whole field as a number; nullopt for anything else.
std::optional<double> Number(const std::string& field) {
  char* end = nullptr;
  const double value = std::strtod(field.c_str(), &end);
  if (field.empty() || end != field.c_str() + field.size()) return std::nullopt;
  return value;
}

}  // namespace

Result<ProcessStat> ParseProcStat(const std::string& stat, double boot_time, long ticks_per_second,
                                  long page_size) {
  // The command name (field 2) may hold spaces and parentheses: the fields
  // after it start behind the last ')'.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return Fail("no command name in parentheses");
  if (ticks_per_second <= 0) return Fail("sysconf(_SC_CLK_TCK) is not positive");
  std::istringstream rest(stat.substr(close + 1));
  std::vector<std::string> fields;  // fields[0] is field 3 (state)
  for (std::string field; rest >> field;) fields.push_back(field);
  if (fields.size() < 22) return Fail("fewer than 24 fields");
  const auto utime = Number(fields[11]);
  const auto stime = Number(fields[12]);
  const auto start_ticks = Number(fields[19]);
  const auto vsize = Number(fields[20]);
  const auto rss_pages = Number(fields[21]);
  if (!utime || !stime || !start_ticks || !vsize || !rss_pages) {
    return Fail("a time or memory field is not a number");
  }
  ProcessStat out;
  out.cpu_seconds = (*utime + *stime) / static_cast<double>(ticks_per_second);
  out.start_time_seconds = boot_time + *start_ticks / static_cast<double>(ticks_per_second);
  out.virtual_memory_bytes = *vsize;
  out.resident_memory_bytes = *rss_pages * static_cast<double>(page_size);
  return out;
}

ProcessCollector::ProcessCollector(std::string proc_self) : proc_self_(std::move(proc_self)) {}

CollectorResult ProcessCollector::Collect(const Deadline& /*deadline*/) {
  CollectorResult result;
  const Result<ProcessStat> parsed = ParseProcStat(ReadSmallFile(proc_self_ + "/stat"), BootTime(),
                                                   sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE));
  if (!parsed) {
    result.error = "cannot read " + proc_self_ + "/stat: " + parsed.error();
    return result;
  }
  const ProcessStat& stat = *parsed;
  result.families.push_back(SingleCounter("process_cpu_seconds_total",
                                          "Total user and system CPU time spent in seconds.",
                                          stat.cpu_seconds));
  result.families.push_back(SingleGauge("process_start_time_seconds",
                                        "Start time of the process since unix epoch in seconds.",
                                        stat.start_time_seconds));
  result.families.push_back(SingleGauge(
      "process_virtual_memory_bytes", "Virtual memory size in bytes.", stat.virtual_memory_bytes));
  result.families.push_back(SingleGauge("process_resident_memory_bytes",
                                        "Resident memory size in bytes.",
                                        stat.resident_memory_bytes));
  const double open_fds = CountOpenFds(proc_self_);
  if (open_fds >= 0) {
    result.families.push_back(
        SingleGauge("process_open_fds", "Number of open file descriptors.", open_fds));
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    result.families.push_back(SingleGauge("process_max_fds",
                                          "Maximum number of open file descriptors.",
                                          static_cast<double>(limit.rlim_cur)));
  }
  return result;
}

CollectorSpec ProcessCollectorSpec() {
  CollectorSpec spec;
  spec.name = "process";
  spec.title = "Process collector";
  spec.help = "Export the exporter's own process_* metrics (CPU, memory, file descriptors)";
  spec.make = [](const CollectorContext&) -> Result<std::unique_ptr<Collector>> {
    return std::unique_ptr<Collector>(std::make_unique<ProcessCollector>());
  };
  return spec;
}

}  // namespace caloria
