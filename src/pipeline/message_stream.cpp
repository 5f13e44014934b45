#include "pipeline/message_stream.h"

#include <spdlog/spdlog.h>

namespace portcullis::pipeline {

bool MessageStream::push(std::string message, bool final) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    if (queue_.size() >= capacity_) {
      // A client that never reads its stream must not grow our memory without
      // bound: drop the oldest message and say so.
      queue_.pop_front();
      if (dropped_++ % 100 == 0) {
        spdlog::warn("downstream stream full ({} messages); dropped {} so far", capacity_, dropped_);
      }
    }
    queue_.emplace_back(std::move(message), final);
  }
  cv_.notify_one();
  return true;
}

MessageStream::Pop MessageStream::pop(std::string* out, bool* final,
                                      std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_until(lock, deadline, [&] { return !queue_.empty() || closed_; })) return Pop::Timeout;
  if (closed_) return Pop::Closed;
  *out = std::move(queue_.front().first);
  *final = queue_.front().second;
  queue_.pop_front();
  return Pop::Message;
}

void MessageStream::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    queue_.clear();
  }
  cv_.notify_all();
}

bool MessageStream::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

void MessageStream::set_attached(bool attached) {
  std::lock_guard lock(mu_);
  attached_ = attached;
}

bool MessageStream::attached() const {
  std::lock_guard lock(mu_);
  return attached_;
}

}  // namespace portcullis::pipeline
