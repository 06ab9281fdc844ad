#pragma once
// TLS client contexts for upstream connections, one per distinct (trust anchors, verify)
// setting, built at start-up and shared read-only by all workers (an SSL_CTX may create
// SSL objects from many threads once configured). Each context also keeps the last session
// every provider address gave it, so that a new connection resumes it (an abbreviated
// handshake without the certificate chain and its verification), as nginx's
// proxy_ssl_session_reuse does.

#include "aigw/provider.hpp"

#include <boost/asio/ssl/context.hpp>
#include <openssl/ssl.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace aigw {

// The sessions of one SSL_CTX by peer ("host:port"), shared by the workers (one lock, taken
// once per new connection and once per ticket received).
class TlsSessionCache {
 public:
  TlsSessionCache() = default;
  ~TlsSessionCache();
  TlsSessionCache(const TlsSessionCache&) = delete;
  TlsSessionCache& operator=(const TlsSessionCache&) = delete;

  // Offers `ssl` the last session of `peer`, if any, and tags `ssl` with `peer` (which must
  // outlive it) so that the sessions it receives are kept under that name.
  void prepare(SSL* ssl, const std::string* peer);
  // The name `ssl` keeps its sessions under now lives at `peer` (the connection that owned
  // the first one has handed `ssl` on, as to an HTTP/2 connection).
  static void rename(SSL* ssl, const std::string* peer);
  // Installs the new-session callback on `context`. The destructor removes it: SSL objects
  // of pooled connections may outlive the cache (they hold their own reference to the
  // context), and a ticket arriving on one then finds no cache.
  void attach(SSL_CTX* context);
  std::size_t size() const;

 private:
  static int on_new_session(SSL* ssl, SSL_SESSION* session);
  SSL_CTX* context_ = nullptr;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, SSL_SESSION*> sessions_;
};

class TlsContexts {
 public:
  // Throws std::runtime_error naming the provider and file when a ca_file cannot be loaded.
  // `previous` (a reload): its contexts are kept, for settings the new providers use (with
  // their session caches) and for those they no longer use (requests of the old config may
  // still open connections with them). Only new settings (another ca_file path, tls_verify)
  // get a new context: a CA file's new content under the same path is read at restart.
  static std::shared_ptr<const TlsContexts> build(const ProviderRegistry& providers,
                                                  const TlsContexts* previous = nullptr);

  struct Client {
    boost::asio::ssl::context context{boost::asio::ssl::context::tls_client};
    TlsSessionCache sessions;
  };
  // The context for `provider`'s connections. Never null for a provider of the registry.
  Client& for_provider(const Provider& provider) const;

 private:
  static std::string key_of(const ProviderConfig& config);
  std::map<std::string, std::shared_ptr<Client>> contexts_;
};

}  // namespace aigw
