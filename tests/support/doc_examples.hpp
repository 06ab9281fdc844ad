#pragma once
// The `curl` examples of the documentation (README.md, docs/*.md), found in fenced code
// blocks, and a runner that executes one with /bin/sh against a test gateway
// (tests/integration/docs_curl_test.cpp).
//
// What a doc may say about its examples (HTML comments are not rendered):
//   <!-- curl-test: expect 404 -->         before a block: every curl in it gets 404
//   <!-- curl-test: expect 200 429 -->     one status per curl of the block, in order
//   <!-- curl-test: skip <reason> -->      before a block: its curls are not run
//   curl ... # → 429   or a comment line `# → 429` (also -> or =>) right after a curl: that
//                      example's status
// Any other example must get a 2xx.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aigw::test {

struct CurlExample {
  std::string file;                 // as given to the extractor, e.g. "docs/compat.md"
  int line = 0;                     // 1-based line of the `curl`
  std::string command;              // as written: continuation lines kept, a `$ ` prompt dropped
  std::optional<unsigned> expect;   // the status the doc shows; empty: any 2xx
  std::optional<std::string> skip;  // why it is not run
  std::string where() const { return file + ":" + std::to_string(line); }
};

struct ExtractedExamples {
  std::vector<CurlExample> examples;
  std::vector<std::string> problems;  // "file:line: ..." (a marker that applies to nothing, ...)
};

// Every curl command of the fenced code blocks of `markdown`: a line that starts with `curl`
// (after indentation and an optional `$ ` prompt), continued while it ends with `\` or a
// quote is open.
ExtractedExamples extract_curl_examples(std::string_view markdown, const std::string& file);

// Shell words of `command` with $VAR and ${VAR} expanded from `vars` (unknown: empty) and
// quotes removed, up to the first unquoted `|`, `;`, `&`, `>` or `<`; comments dropped.
std::vector<std::string> shell_words(std::string_view command,
                                     const std::map<std::string, std::string>& vars);

// The URLs a curl command line (shell_words of it) requests: its arguments that are not
// options or their values, and --url's.
std::vector<std::string> curl_urls(const std::vector<std::string>& words);

// The names of the variables ($NAME, ${NAME}) a command uses, each once.
std::vector<std::string> variables_in(std::string_view command);

struct CurlRun {
  unsigned status = 0;  // of the last response curl received; 0: none
  std::string output;   // what the command wrote (stdout and stderr)
  int exit_code = -1;   // the shell's; -2 when it was killed after the time limit
  std::string log_id;   // the last response's cf-aig-log-id, if it had one
};

// Runs `command` with /bin/sh -c, `env` as its whole environment (plus PATH), `curl` being a
// function that adds --noproxy '*', -sS, --max-time and a dump of the response head, from
// which the status is read.
CurlRun run_curl_command(const std::string& command, const std::map<std::string, std::string>& env,
                         std::chrono::seconds limit);

}  // namespace aigw::test
