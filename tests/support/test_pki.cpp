#include "support/test_pki.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace aigw::test {
namespace {

void run(const std::string& command) {
  const std::string quiet = command + " >/dev/null 2>&1";
  if (std::system(quiet.c_str()) != 0) throw std::runtime_error("command failed: " + command);
}

std::vector<std::string>& temp_dirs() {
  // Never destroyed: the atexit hook below may run after static destructors.
  static auto* dirs = new std::vector<std::string>;
  return *dirs;
}

void remove_temp_dirs() {
  for (const auto& d : temp_dirs()) {
    std::error_code ec;
    std::filesystem::remove_all(d, ec);
  }
}

void make_ca(const std::string& dir, const std::string& name) {
  run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj '/CN=" +
      name + "' -keyout " + dir + "/" + name + ".key -out " + dir + "/" + name + ".pem");
}

void make_leaf(const std::string& dir, const std::string& ca, const std::string& name,
               const std::string& san = "DNS:localhost,IP:127.0.0.1") {
  const std::string ext = dir + "/" + name + ".ext";
  std::ofstream(ext) << "subjectAltName=" << san << "\nbasicConstraints=CA:FALSE\n";
  run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/CN=localhost' "
      "-keyout " +
      dir + "/" + name + ".key -out " + dir + "/" + name + ".csr");
  run("openssl x509 -req -days 2 -in " + dir + "/" + name + ".csr -CA " + dir + "/" + ca +
      ".pem -CAkey " + dir + "/" + ca + ".key -CAcreateserial -extfile " + ext + " -out " + dir +
      "/" + name + ".pem");
}

}  // namespace

std::string make_temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "aigw-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  static std::once_flag once;
  std::call_once(once, [] { std::atexit(remove_temp_dirs); });
  temp_dirs().push_back(pattern);
  return pattern;
}

const TestPki& test_pki() {
  static const TestPki pki = [] {
    TestPki p;
    p.dir = make_temp_dir();
    make_ca(p.dir, "ca");
    make_ca(p.dir, "rogue-ca");
    make_leaf(p.dir, "ca", "server");
    make_leaf(p.dir, "rogue-ca", "rogue");
    make_leaf(p.dir, "ca", "other-name", "DNS:other.example");
    p.ca_file = p.dir + "/ca.pem";
    p.server_cert = p.dir + "/server.pem";
    p.server_key = p.dir + "/server.key";
    p.rogue_cert = p.dir + "/rogue.pem";
    p.rogue_key = p.dir + "/rogue.key";
    p.other_name_cert = p.dir + "/other-name.pem";
    p.other_name_key = p.dir + "/other-name.key";
    return p;
  }();
  return pki;
}

}  // namespace aigw::test
