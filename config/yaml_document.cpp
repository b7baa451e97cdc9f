#include "config/yaml_document.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <sstream>
#include <string_view>

namespace caloria {
namespace {

// One line for a yaml-cpp parse error: where, and yaml-cpp's fixed text up
// to its first ':' (after which some messages quote the input).
std::string SyntaxError(const std::string& named, const YAML::Exception& error) {
  std::string what = error.msg.substr(0, error.msg.find(':'));
  for (char& c : what) {
    if (c < 0x20 || c >= 0x7f) c = '?';
  }
  return named + ": not valid YAML at line " + std::to_string(error.mark.line + 1) + ", column " +
         std::to_string(error.mark.column + 1) + " (" + what +
         "): fix the syntax there (indent with spaces, never tabs)";
}

// Events of a document, unused: DocumentCount wants only where each starts.
class DocumentStarts final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { last = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& /*mark*/, YAML::anchor_t /*anchor*/) override {}
  void OnAlias(const YAML::Mark& /*mark*/, YAML::anchor_t /*anchor*/) override {}
  void OnScalar(const YAML::Mark& /*mark*/, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                const std::string& /*value*/) override {}
  void OnSequenceStart(const YAML::Mark& /*mark*/, const std::string& /*tag*/,
                       YAML::anchor_t /*anchor*/, YAML::EmitterStyle::value /*style*/) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& /*mark*/, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                  YAML::EmitterStyle::value /*style*/) override {}
  void OnMapEnd() override {}

  YAML::Mark last;
};

// Whether the text is only blank lines, comments and document markers: the
// one way a file may say "nothing on".
bool HoldsNothing(std::string_view text) {
  while (!text.empty()) {
    const std::size_t end = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    const std::size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) continue;
    line.remove_prefix(first);
    if (line.substr(0, 3) == "---" || line.substr(0, 3) == "...") line.remove_prefix(3);
    const std::size_t rest = line.find_first_not_of(" \t\r");
    if (rest != std::string_view::npos && line[rest] != '#') return false;
  }
  return true;
}

}  // namespace

Result<YAML::Node> ParseYamlDocument(const std::string& text, const YamlFileKind& kind) {
  const std::string prefix = kind.named + ": ";
  try {
    std::istringstream stream(text);
    YAML::Parser parser(stream);
    DocumentStarts starts;
    if (parser.HandleNextDocument(starts) && parser.HandleNextDocument(starts)) {
      return Fail(prefix + "holds a second YAML document or stray text at line " +
                  std::to_string(starts.last.line + 1) +
                  ": keep one document, with no --- line after its start");
    }
    YAML::Node root = YAML::Load(text);
    if (root.IsNull() && !HoldsNothing(text)) {
      return Fail(prefix +
                  "reads as an empty YAML document although it is not empty: " + kind.layout);
    }
    return root;
  } catch (const YAML::DeepRecursion& deep) {
    // yaml-cpp (0.6.3 and later) stops at a fixed depth instead of
    // overflowing the stack; its message for it says "bad file".
    return Fail(prefix + "nests deeper than " + std::to_string(deep.depth()) + " levels at line " +
                std::to_string(deep.mark.line + 1) + ": " + kind.depth);
  } catch (const YAML::Exception& syntax) {
    return Fail(SyntaxError(kind.named, syntax));
  }
}

const char* YamlKindName(const YAML::Node& node) {
  if (node.IsMap()) return "mapping";
  if (node.IsSequence()) return "list";
  if (node.IsNull()) return "null";
  return "single value";
}

}  // namespace caloria
