#pragma once

#include <curl/curl.h>

#include <memory>

namespace caloria {

// Owners for libcurl's handles, so every path out of a function frees them
// (core/unique_handles.h does the same for DIR* and FILE*; libcurl stays
// inside collectors/app_probe/).
struct CurlEasyCleanup {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using UniqueCurl = std::unique_ptr<CURL, CurlEasyCleanup>;

struct CurlUrlCleanup {
  void operator()(CURLU* handle) const { curl_url_cleanup(handle); }
};
using UniqueCurlUrl = std::unique_ptr<CURLU, CurlUrlCleanup>;

struct CurlSlistCleanup {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using UniqueCurlSlist = std::unique_ptr<curl_slist, CurlSlistCleanup>;

// A string libcurl allocated (curl_url_get).
struct CurlFree {
  void operator()(char* text) const { curl_free(text); }
};
using CurlString = std::unique_ptr<char, CurlFree>;

}  // namespace caloria
