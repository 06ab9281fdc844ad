#pragma once
// Certificates for tests, generated with the openssl CLI the first time they are needed in a
// test process (never committed): a test CA, a server certificate it signed for localhost and
// 127.0.0.1, and a "rogue" certificate for the same names signed by a different CA.

#include <string>

namespace aigw::test {

struct TestPki {
  std::string dir;
  std::string ca_file;      // trust anchor to configure as providers.*.ca_file
  std::string server_cert;  // signed by ca_file; SAN localhost, 127.0.0.1
  std::string server_key;
  std::string rogue_cert;  // same names, signed by an untrusted CA
  std::string rogue_key;
  std::string other_name_cert;  // signed by ca_file, but only for other.example
  std::string other_name_key;
};

const TestPki& test_pki();

// A fresh temporary directory (removed at process exit).
std::string make_temp_dir();

}  // namespace aigw::test
