#pragma once
// TLS client contexts for upstream connections, one per distinct (trust anchors, verify)
// setting, built at start-up and shared read-only by all workers (an SSL_CTX may create
// SSL objects from many threads once configured).

#include "aigw/provider.hpp"

#include <boost/asio/ssl/context.hpp>

#include <map>
#include <memory>
#include <string>

namespace aigw {

class TlsContexts {
 public:
  // Throws std::runtime_error naming the provider and file when a ca_file cannot be loaded.
  static std::shared_ptr<const TlsContexts> build(const ProviderRegistry& providers);

  // The context for `provider`'s connections. Never null for a provider of the registry.
  boost::asio::ssl::context& for_provider(const Provider& provider) const;

 private:
  static std::string key_of(const ProviderConfig& config);
  std::map<std::string, std::unique_ptr<boost::asio::ssl::context>> contexts_;
};

}  // namespace aigw
