// MessageStream: a bounded FIFO of serialized JSON-RPC messages headed for
// one downstream HTTP response (a POST's SSE stream, a session's GET stream,
// or a legacy SSE stream). Producers are transport and pool threads; the one
// consumer is the HTTP connection thread. Thread-safe.
#pragma once
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>

namespace portcullis::pipeline {

class MessageStream {
 public:
  explicit MessageStream(size_t capacity = 4096) : capacity_(capacity) {}

  // Queues a message. Returns false when the stream is closed (the consumer
  // went away), so the caller can route the message elsewhere. `final` marks
  // the response that completes a POST stream.
  bool push(std::string message, bool final = false);

  enum class Pop { Message, Timeout, Closed };
  // Waits for the next message until `deadline`. Sets *final when the
  // message is the completing response.
  Pop pop(std::string* out, bool* final, std::chrono::steady_clock::time_point deadline);

  // Consumer side: no more messages will be read; pending ones are dropped.
  void close();
  bool closed() const;
  // Whether a consumer is currently draining this stream (GET stream open).
  void set_attached(bool attached);
  bool attached() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, bool>> queue_;
  size_t capacity_;
  size_t dropped_ = 0;
  bool closed_ = false;
  bool attached_ = false;
};

}  // namespace portcullis::pipeline
