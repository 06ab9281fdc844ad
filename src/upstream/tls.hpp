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
  // `previous` (a reload): its contexts for settings the new providers no longer use are kept,
  // since requests of the old config may still open connections with them. The others are
  // built afresh, so a CA file that changed on disk is read again.
  static std::shared_ptr<const TlsContexts> build(const ProviderRegistry& providers,
                                                  const TlsContexts* previous = nullptr);

  // The context for `provider`'s connections. Never null for a provider of the registry.
  boost::asio::ssl::context& for_provider(const Provider& provider) const;

 private:
  static std::string key_of(const ProviderConfig& config);
  std::map<std::string, std::shared_ptr<boost::asio::ssl::context>> contexts_;
};

}  // namespace aigw
