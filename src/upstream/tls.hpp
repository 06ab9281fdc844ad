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
  // `previous` (a reload): its contexts are kept, for settings the new providers use (with
  // their session caches) and for those they no longer use (requests of the old config may
  // still open connections with them). Only new settings (another ca_file path, tls_verify)
  // get a new context: a CA file's new content under the same path is read at restart.
  static std::shared_ptr<const TlsContexts> build(const ProviderRegistry& providers,
                                                  const TlsContexts* previous = nullptr);

  // The context for `provider`'s connections. Never null for a provider of the registry.
  boost::asio::ssl::context& for_provider(const Provider& provider) const;

 private:
  static std::string key_of(const ProviderConfig& config);
  std::map<std::string, std::shared_ptr<boost::asio::ssl::context>> contexts_;
};

}  // namespace aigw
