#include "collectors/app_probe/http_fetch.h"

#include "collectors/app_probe/curl_handles.h"

namespace caloria {
namespace {

using Stopwatch = std::chrono::steady_clock;

// curl_global_init and its cleanup at exit, after main() has joined every
// thread that fetches.
class CurlGlobal {
 public:
  CurlGlobal() : code_(curl_global_init(CURL_GLOBAL_DEFAULT)) {}
  ~CurlGlobal() {
    if (code_ == CURLE_OK) curl_global_cleanup();
  }
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;

  CURLcode code() const { return code_; }

 private:
  CURLcode code_;
};

// Where the write callback puts the body, and whether it had to stop.
struct BodySink {
  std::string body;
  std::size_t limit = 0;
  bool too_big = false;
};

std::size_t WriteBody(char* data, std::size_t size, std::size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  const std::size_t bytes = size * count;
  if (bytes > sink->limit - sink->body.size()) {
    sink->too_big = true;
    return 0;  // anything short of `bytes` makes libcurl abort the transfer
  }
  sink->body.append(data, bytes);
  return bytes;
}

// libcurl's message, on one line.
std::string OneLine(const char* text) {
  std::string line(text);
  for (char& c : line) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

std::string KiB(std::size_t bytes) { return std::to_string(bytes / 1024) + " KiB"; }

// One line naming why there was no answer, and the fix.
std::string Explain(CURLcode code, const std::string& detail, const HttpFetchOptions& options) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return "timeout: the app did not answer within --collector.timeout (" + detail +
             "): check that it is up and not overloaded, or raise --collector.timeout";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return "cannot resolve the app's host (" + detail + "): check the host in --app.health-url";
    case CURLE_COULDNT_CONNECT:
      return "cannot connect to the app (" + detail +
             "): check that it is running and listening where --app.health-url points";
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      return "TLS failure talking to the app (" + detail +
             "): give the CA that signed its certificate with --app.health-ca-file, or fix the "
             "certificate";
    case CURLE_TOO_MANY_REDIRECTS:
      return "redirect loop: the app's health page redirected more than " +
             std::to_string(options.max_redirects) + " times (" + detail +
             "): point --app.health-url at the page itself";
    case CURLE_UNSUPPORTED_PROTOCOL:
      return "the app's health page redirected to something other than http or https (" + detail +
             "): point --app.health-url at the page itself";
    case CURLE_FILESIZE_EXCEEDED:
      return "body too big: the app's health page is larger than " + KiB(options.max_body_bytes) +
             ": point --app.health-url at the app's /health/database";
    default:
      return "the request to the app failed (" + detail + "): check --app.health-url";
  }
}

// Sets every option of the request; false if libcurl refused one (it was
// built without a feature we rely on).
bool Configure(CURL* curl, const HealthUrl& url, const HttpFetchOptions& options,
               std::chrono::milliseconds budget, BodySink& sink, curl_slist* headers,
               char* error_buffer) {
  const long budget_ms = static_cast<long>(budget.count());
  const CURLcode codes[] = {
      curl_easy_setopt(curl, CURLOPT_URL, url.address.Reveal().c_str()),
      curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer),
      // No SIGALRM for DNS timeouts: the poller's thread must not get signals.
      curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L),
      curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, budget_ms),
      curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, budget_ms),
      curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https"),
      curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"),
      curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L),
      curl_easy_setopt(curl, CURLOPT_MAXREDIRS, options.max_redirects),
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L),
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L),
      curl_easy_setopt(curl, CURLOPT_USERAGENT, options.user_agent.c_str()),
      curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers),
      // A Content-Length beyond the limit fails before the body is read.
      curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                       static_cast<curl_off_t>(options.max_body_bytes)),
      curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteBody),
      curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink),
      options.ca_file ? curl_easy_setopt(curl, CURLOPT_CAINFO, options.ca_file->c_str()) : CURLE_OK,
  };
  for (const CURLcode code : codes) {
    if (code != CURLE_OK) return false;
  }
  return true;
}

}  // namespace

Status InitHttpFetching() {
  static const CurlGlobal global;
  if (global.code() != CURLE_OK) {
    return Fail("cannot initialize libcurl (" + std::string(curl_easy_strerror(global.code())) +
                "): restart the exporter and report this");
  }
  return {};
}

Result<HttpAnswer> FetchHttp(const HealthUrl& url, const HttpFetchOptions& options,
                             const Deadline& deadline) {
  if (Status ready = InitHttpFetching(); !ready) return Fail(ready.error());
  const std::chrono::milliseconds budget = deadline.Remaining();
  // libcurl reads a timeout of 0 as "none".
  if (budget.count() <= 0) {
    return Fail("timeout: no time was left for the app probe: raise --collector.timeout");
  }
  const UniqueCurl curl(curl_easy_init());
  const UniqueCurlSlist headers(curl_slist_append(nullptr, "Accept: application/json"));
  if (!curl || !headers) return Fail("cannot start a request to the app: out of memory");
  BodySink sink;
  sink.limit = options.max_body_bytes;
  char error_buffer[CURL_ERROR_SIZE] = {};
  if (!Configure(curl.get(), url, options, budget, sink, headers.get(), error_buffer)) {
    return Fail(
        "this libcurl lacks an option the app probe needs (http/https only, timeouts, TLS): "
        "install Debian 12's libcurl4 or newer");
  }
  const auto start = Stopwatch::now();
  const CURLcode code = curl_easy_perform(curl.get());
  HttpAnswer answer;
  answer.duration = Stopwatch::now() - start;
  if (sink.too_big) return Fail(Explain(CURLE_FILESIZE_EXCEEDED, "", options));
  if (code != CURLE_OK) {
    const std::string detail = OneLine(error_buffer[0] ? error_buffer : curl_easy_strerror(code));
    return Fail(url.Scrub(Explain(code, detail, options)));
  }
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &answer.status);
  answer.body = std::move(sink.body);
  return answer;
}

}  // namespace caloria
