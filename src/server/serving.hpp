#pragma once
// What requests are served with: the config, the pipeline built from it and the upstream TLS
// contexts, replaced whole by a reload (POST /api/reload, SIGHUP; docs/operations.md).
//
// A request takes the Serving current when it starts and keeps it (a shared_ptr) until it
// ends, so a reload never changes a request half-way: in-flight requests finish on the old
// config, new ones start on the new. Workers check a version number per request (one relaxed
// atomic load) and take the lock only when it moved.

#include "aigw/config.hpp"

#include "pipeline/pipeline.hpp"
#include "upstream/tls.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace aigw {

struct Serving {
  std::shared_ptr<const Config> config;
  std::shared_ptr<const Pipeline> pipeline;
  std::shared_ptr<const TlsContexts> tls;
};

class ServingSource {
 public:
  explicit ServingSource(std::shared_ptr<const Serving> first) : current_(std::move(first)) {}

  // Any thread.
  void publish(std::shared_ptr<const Serving> next) {
    {
      std::lock_guard lock(mutex_);
      current_ = std::move(next);
    }
    version_.fetch_add(1, std::memory_order_release);
  }
  std::shared_ptr<const Serving> current() const {
    std::lock_guard lock(mutex_);
    return current_;
  }
  std::uint64_t version() const noexcept { return version_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Serving> current_;
  std::atomic<std::uint64_t> version_{0};
};

}  // namespace aigw
