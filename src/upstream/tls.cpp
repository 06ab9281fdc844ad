#include "upstream/tls.hpp"

#include <openssl/ssl.h>

#include <stdexcept>

namespace aigw {

namespace ssl = boost::asio::ssl;

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
    // A reload keeps the context of unchanged settings: its TLS session cache (resumed
    // handshakes) and the CA certificates it has looked up stay warm, and no worker
    // handshakes on a context still loading them.
    if (previous != nullptr) {
      if (const auto it = previous->contexts_.find(key); it != previous->contexts_.end()) {
        out->contexts_.emplace(key, it->second);
        continue;
      }
    }
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    // TLS 1.2+ only; compression and renegotiation off (CRIME, renegotiation attacks).
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                     ssl::context::no_compression);
    ctx->set_default_verify_paths();
    if (provider->config.ca_file) {
      boost::system::error_code ec;
      ctx->load_verify_file(*provider->config.ca_file, ec);
      if (ec) {
        throw std::runtime_error("providers." + slug + ".ca_file: cannot load " +
                                 *provider->config.ca_file + ": " + ec.message());
      }
    }
    ctx->set_verify_mode(provider->config.tls_verify ? ssl::verify_peer : ssl::verify_none);
    // Resumed sessions skip a full handshake when a pooled connection has expired.
    SSL_CTX_set_session_cache_mode(ctx->native_handle(), SSL_SESS_CACHE_CLIENT);
    out->contexts_.emplace(key, std::move(ctx));
  }
  // Settings no provider uses any more: kept for requests of the previous config still in
  // flight. At most one per distinct (ca_file, tls_verify) ever configured.
  if (previous != nullptr) {
    for (const auto& [key, ctx] : previous->contexts_) out->contexts_.emplace(key, ctx);
  }
  return out;
}

ssl::context& TlsContexts::for_provider(const Provider& provider) const {
  return *contexts_.at(key_of(provider.config));
}

}  // namespace aigw
