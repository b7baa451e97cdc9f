#include "render/metrics_page.h"

#include <prometheus/text_serializer.h>

#include <sstream>

namespace caloria {

RenderedPage RenderMetricsPage(const Snapshot& snapshot) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, snapshot.families);
  return {200, "text/plain; version=0.0.4; charset=utf-8", out.str()};
}

}  // namespace caloria
