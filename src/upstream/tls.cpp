#include "upstream/tls.hpp"

#include <openssl/ssl.h>

#include <stdexcept>

namespace aigw {

namespace ssl = boost::asio::ssl;

namespace {

// The indexes of TlsSessionCache's pointers in an SSL_CTX's and an SSL's extra data.
int context_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}
int peer_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Peers a process talks to come from its config (providers' hosts), so this is never reached
// in practice; it bounds the map should a config name thousands of hosts.
constexpr std::size_t kMaxPeers = 4096;

}  // namespace

TlsSessionCache::~TlsSessionCache() {
  if (context_ != nullptr) {
    SSL_CTX_sess_set_new_cb(context_, nullptr);
    SSL_CTX_set_ex_data(context_, context_index(), nullptr);
  }
  for (auto& [peer, session] : sessions_) SSL_SESSION_free(session);
}

void TlsSessionCache::attach(SSL_CTX* context) {
  context_ = context;
  SSL_CTX_set_ex_data(context, context_index(), this);
  // Client sessions are kept by the callback alone: OpenSSL's internal cache is for servers.
  SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(context, &TlsSessionCache::on_new_session);
}

void TlsSessionCache::prepare(SSL* ssl, const std::string* peer) {
  SSL_set_ex_data(ssl, peer_index(), const_cast<std::string*>(peer));
  SSL_SESSION* session = nullptr;
  {
    std::lock_guard lock(mutex_);
    const auto it = sessions_.find(*peer);
    if (it == sessions_.end()) return;
    session = it->second;
    SSL_SESSION_up_ref(session);
  }
  SSL_set_session(ssl, session);  // takes its own reference
  SSL_SESSION_free(session);
}

void TlsSessionCache::rename(SSL* ssl, const std::string* peer) {
  SSL_set_ex_data(ssl, peer_index(), const_cast<std::string*>(peer));
}

std::size_t TlsSessionCache::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

int TlsSessionCache::on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* cache =
      static_cast<TlsSessionCache*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), context_index()));
  const auto* peer = static_cast<const std::string*>(SSL_get_ex_data(ssl, peer_index()));
  if (cache == nullptr || peer == nullptr || SSL_SESSION_is_resumable(session) != 1) return 0;
  // A copy: the connection's own session is marked not resumable when the connection is
  // freed without a TLS shutdown (ssl_clear_bad_session), which is how pooled connections
  // end; the copy keeps the ticket usable.
  session = SSL_SESSION_dup(session);
  if (session == nullptr) return 0;
  SSL_SESSION* replaced = nullptr;
  {
    std::lock_guard lock(cache->mutex_);
    auto it = cache->sessions_.find(*peer);
    if (it != cache->sessions_.end()) {
      replaced = it->second;
      it->second = session;
    } else if (cache->sessions_.size() < kMaxPeers) {
      cache->sessions_.emplace(*peer, session);
    } else {
      replaced = session;  // full: not kept
    }
  }
  if (replaced != nullptr) SSL_SESSION_free(replaced);
  return 0;  // OpenSSL keeps its own reference to the original
}

std::string TlsContexts::key_of(const ProviderConfig& config) {
  return (config.tls_verify ? "verify|" : "noverify|") + config.ca_file.value_or("");
}

std::shared_ptr<const TlsContexts> TlsContexts::build(const ProviderRegistry& providers,
                                                      const TlsContexts* previous) {
  auto out = std::make_shared<TlsContexts>();
  for (const auto& slug : providers.slugs()) {
    const Provider* provider = providers.find(slug);
    if (provider == nullptr) continue;
    const std::string key = key_of(provider->config);
    if (out->contexts_.count(key) != 0) continue;
    // A reload keeps the context of unchanged settings: its TLS sessions (resumed
    // handshakes) and the CA certificates it has looked up stay warm, and no worker
    // handshakes on a context still loading them.
    if (previous != nullptr) {
      if (const auto it = previous->contexts_.find(key); it != previous->contexts_.end()) {
        out->contexts_.emplace(key, it->second);
        continue;
      }
    }
    auto client = std::make_shared<Client>();
    auto& ctx = client->context;
    // TLS 1.2+ only; compression and renegotiation off (CRIME, renegotiation attacks).
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                    ssl::context::no_compression);
    ctx.set_default_verify_paths();
    if (provider->config.ca_file) {
      boost::system::error_code ec;
      ctx.load_verify_file(*provider->config.ca_file, ec);
      if (ec) {
        throw std::runtime_error("providers." + slug + ".ca_file: cannot load " +
                                 *provider->config.ca_file + ": " + ec.message());
      }
    }
    ctx.set_verify_mode(provider->config.tls_verify ? ssl::verify_peer : ssl::verify_none);
    client->sessions.attach(ctx.native_handle());
    out->contexts_.emplace(key, std::move(client));
  }
  // Settings no provider uses any more: kept for requests of the previous config still in
  // flight. At most one per distinct (ca_file, tls_verify) ever configured.
  if (previous != nullptr) {
    for (const auto& [key, ctx] : previous->contexts_) out->contexts_.emplace(key, ctx);
  }
  return out;
}

TlsContexts::Client& TlsContexts::for_provider(const Provider& provider) const {
  return *contexts_.at(key_of(provider.config));
}

}  // namespace aigw
