#pragma once

#include <string>

#include "collectors/collector.h"
#include "collectors/registry.h"
#include "core/result.h"

namespace caloria {

// The standard process_* metrics every Prometheus client library exports
// (CPU, memory, file descriptors, start time), read from /proc/self, so
// operators can watch the exporter itself as they watch node_exporter.
class ProcessCollector : public Collector {
 public:
  explicit ProcessCollector(std::string proc_self = "/proc/self");

  std::string Name() const override { return "process"; }
  CollectorResult Collect(const Deadline& deadline) override;

 private:
  std::string proc_self_;
};

struct ProcessStat {
  double cpu_seconds = 0;
  double start_time_seconds = 0;  // since the epoch
  double virtual_memory_bytes = 0;
  double resident_memory_bytes = 0;
};

// Parses /proc/<pid>/stat. `boot_time` is btime from /proc/stat; ticks and
// page size are sysconf(_SC_CLK_TCK) and sysconf(_SC_PAGESIZE).
Result<ProcessStat> ParseProcStat(const std::string& stat, double boot_time, long ticks_per_second,
                                  long page_size);

// --[no-]collector.process.
CollectorSpec ProcessCollectorSpec();

}  // namespace caloria
