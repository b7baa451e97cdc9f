#include "collectors/database/connection_handover.h"

namespace caloria {

void ConnectionHandOver::ExpectTaker() {
  std::lock_guard<std::mutex> lock(mutex_);
  taker_expected_ = true;
}

bool ConnectionHandOver::TakerExpected() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return taker_expected_;
}

void ConnectionHandOver::Give(std::unique_ptr<PostgresConnection> connection, std::string url_key) {
  std::unique_ptr<PostgresConnection> left_over;  // closed outside the lock
  std::lock_guard<std::mutex> lock(mutex_);
  left_over = std::move(connection_);
  connection_ = std::move(connection);
  url_key_ = std::move(url_key);
}

std::unique_ptr<PostgresConnection> ConnectionHandOver::Take(const std::string& url_key) {
  std::unique_ptr<PostgresConnection> given;
  bool same_url = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    given = std::move(connection_);
    same_url = url_key_ == url_key;
    url_key_.clear();
  }
  if (!same_url) given.reset();  // closed outside the lock
  return given;
}

}  // namespace caloria
