#include "support/doc_examples.hpp"

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace aigw::test {
namespace {

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

std::string_view trim(std::string_view s) {
  s = trim_left(s);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

// The shell's quoting state at the end of a line, carried to the next one.
enum class Quote { kNone, kSingle, kDouble };

// Scans one line of a command: the quote state after it, whether it ends with a line
// continuation, and where its comment starts (npos: none).
struct LineScan {
  Quote quote = Quote::kNone;
  bool continues = false;
  std::size_t comment = std::string_view::npos;
};

LineScan scan_line(std::string_view line, Quote quote) {
  LineScan out;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote == Quote::kSingle) {
      if (c == '\'') quote = Quote::kNone;
    } else if (c == '\\') {
      if (i + 1 == line.size()) {
        out.continues = quote == Quote::kNone;
        break;
      }
      ++i;
    } else if (quote == Quote::kDouble) {
      if (c == '"') quote = Quote::kNone;
    } else if (c == '\'') {
      quote = Quote::kSingle;
    } else if (c == '"') {
      quote = Quote::kDouble;
    } else if (c == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
      out.comment = i;
      break;
    }
  }
  out.quote = quote;
  // A continuation is a backslash at the very end (trailing spaces would end the command).
  return out;
}

// "# → 429" (also -> and =>) in a comment: the status it shows.
std::optional<unsigned> arrow_status(std::string_view comment) {
  static const std::regex re(R"(^#\s*(?:→|->|=>)\s*([1-5][0-9][0-9])\b)");
  std::cmatch m;
  const std::string text(trim(comment));
  if (!std::regex_search(text.c_str(), m, re)) return std::nullopt;
  return static_cast<unsigned>(std::stoul(m[1].str()));
}

// A line that starts a curl command (after indentation and an optional "$ " prompt): the
// command's first line, else nullopt.
std::optional<std::string_view> curl_start(std::string_view line) {
  line = trim_left(line);
  if (line.starts_with("$ ")) line = trim_left(line.substr(2));
  if (line == "curl" || line.starts_with("curl ")) return line;
  return std::nullopt;
}

struct Marker {
  int line = 0;
  std::vector<unsigned> expect;
  std::optional<std::string> skip;
};

}  // namespace

ExtractedExamples extract_curl_examples(std::string_view markdown, const std::string& file) {
  ExtractedExamples out;
  const auto lines = split_lines(markdown);
  const auto at = [&](std::size_t index) { return file + ":" + std::to_string(index + 1); };
  static const std::regex marker_re(R"(<!--\s*curl-test:\s*(.*?)\s*-->)");
  static const std::regex expect_re(R"(^expect((?:\s+[1-5][0-9][0-9])+)$)");
  static const std::regex skip_re(R"(^skip\s+(\S.*)$)");
  std::optional<Marker> pending;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string_view text = trim(lines[i]);
    std::cmatch m;
    const std::string owned(text);
    // A marker is a line of its own (one quoted in prose is not).
    if (text.starts_with("<!--") && std::regex_search(owned.c_str(), m, marker_re)) {
      if (pending) out.problems.push_back(at(pending->line) + ": curl-test marker before no block");
      Marker marker{static_cast<int>(i), {}, std::nullopt};
      const std::string body = m[1].str();
      std::smatch sm;
      if (std::regex_match(body, sm, expect_re)) {
        std::istringstream statuses(sm[1].str());
        for (unsigned s = 0; statuses >> s;) marker.expect.push_back(s);
      } else if (std::regex_match(body, sm, skip_re)) {
        marker.skip = sm[1].str();
      } else {
        out.problems.push_back(at(i) +
                               ": curl-test marker must be 'expect <status>...' or "
                               "'skip <reason>' (got '" +
                               body + "')");
        continue;
      }
      pending = marker;
      continue;
    }
    // A fence: ``` or ~~~ (three or more), possibly indented (inside a list item).
    const char fence_char = text.empty() ? '\0' : text.front();
    if ((fence_char != '`' && fence_char != '~') || !text.starts_with(std::string(3, fence_char))) {
      continue;
    }
    const std::size_t fence_len = text.find_first_not_of(fence_char) == std::string_view::npos
                                      ? text.size()
                                      : text.find_first_not_of(fence_char);
    // The block's curl commands.
    std::vector<CurlExample> block;
    std::size_t j = i + 1;
    for (; j < lines.size(); ++j) {
      const std::string_view inner = trim(lines[j]);
      if (inner.size() >= fence_len && inner.find_first_not_of(fence_char) == std::string::npos) {
        break;  // the closing fence
      }
      const auto first = curl_start(lines[j]);
      if (!first) continue;
      CurlExample ex;
      ex.file = file;
      ex.line = static_cast<int>(j + 1);
      std::string command(*first);
      LineScan scan = scan_line(*first, Quote::kNone);
      std::size_t last = j;
      while ((scan.continues || scan.quote != Quote::kNone) && last + 1 < lines.size()) {
        ++last;
        const std::string_view next = lines[last];
        const std::string_view next_trim = trim(next);
        if (next_trim.size() >= fence_len &&
            next_trim.find_first_not_of(fence_char) == std::string::npos) {
          --last;
          break;
        }
        command += "\n";
        command += next;
        scan = scan_line(next, scan.quote);
      }
      if (scan.continues || scan.quote != Quote::kNone) {
        out.problems.push_back(at(j) + ": curl command not terminated in its block");
      }
      // Its status: a trailing "# → NNN" on its last line, or such a comment line after it.
      const std::string_view last_line = lines[last];
      if (scan.comment != std::string_view::npos) {
        ex.expect = arrow_status(last_line.substr(scan.comment));
      }
      if (!ex.expect && last + 1 < lines.size()) {
        const std::string_view after = trim(lines[last + 1]);
        if (after.starts_with("#")) ex.expect = arrow_status(after);
      }
      while (!command.empty() && (command.back() == ' ' || command.back() == '\r')) {
        command.pop_back();
      }
      ex.command = std::move(command);
      block.push_back(std::move(ex));
      j = last;
    }
    if (pending) {
      if (block.empty()) {
        out.problems.push_back(at(pending->line) +
                               ": curl-test marker before a block without curl");
      } else if (!pending->expect.empty() && pending->expect.size() != 1 &&
                 pending->expect.size() != block.size()) {
        out.problems.push_back(at(pending->line) + ": curl-test marker lists " +
                               std::to_string(pending->expect.size()) + " statuses for " +
                               std::to_string(block.size()) + " curl commands");
      }
      for (std::size_t k = 0; k < block.size(); ++k) {
        if (pending->skip) block[k].skip = pending->skip;
        if (pending->expect.size() == 1) block[k].expect = pending->expect[0];
        if (pending->expect.size() == block.size()) block[k].expect = pending->expect[k];
      }
      pending.reset();
    }
    for (auto& ex : block) out.examples.push_back(std::move(ex));
    i = j;  // past the closing fence
  }
  if (pending) out.problems.push_back(at(pending->line) + ": curl-test marker before no block");
  return out;
}

std::vector<std::string> variables_in(std::string_view command) {
  static const std::regex re(R"(\$\{?([A-Za-z_][A-Za-z0-9_]*))");
  std::vector<std::string> out;
  const std::string text(command);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it) {
    const std::string name = (*it)[1].str();
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
}

std::vector<std::string> shell_words(std::string_view command,
                                     const std::map<std::string, std::string>& vars) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  Quote quote = Quote::kNone;
  const auto expand = [&](std::size_t& i) {  // at '$': appends the value, moves past the name
    std::size_t start = i + 1;
    const bool braced = start < command.size() && command[start] == '{';
    if (braced) ++start;
    std::size_t end = start;
    while (end < command.size() &&
           (std::isalnum(static_cast<unsigned char>(command[end])) || command[end] == '_')) {
      ++end;
    }
    if (end == start) {
      word += '$';
      return;
    }
    const auto it = vars.find(std::string(command.substr(start, end - start)));
    if (it != vars.end()) word += it->second;
    if (braced && end < command.size() && command[end] == '}') ++end;
    i = end - 1;
  };
  for (std::size_t i = 0; i < command.size(); ++i) {
    const char c = command[i];
    if (quote == Quote::kSingle) {
      if (c == '\'') {
        quote = Quote::kNone;
      } else {
        word += c;
      }
      continue;
    }
    if (quote == Quote::kDouble) {
      if (c == '"') {
        quote = Quote::kNone;
      } else if (c == '\\' && i + 1 < command.size() &&
                 std::string_view("$`\"\\\n").find(command[i + 1]) != std::string_view::npos) {
        if (command[i + 1] != '\n') word += command[i + 1];
        ++i;
      } else if (c == '$') {
        expand(i);
      } else {
        word += c;
      }
      continue;
    }
    if (c == '\\' && i + 1 < command.size()) {
      if (command[i + 1] != '\n') {
        word += command[i + 1];
        in_word = true;
      }
      ++i;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    if (c == '#' && !in_word) {  // a comment, to the end of the line
      const auto nl = command.find('\n', i);
      if (nl == std::string_view::npos) break;
      i = nl - 1;
      continue;
    }
    if (c == '|' || c == ';' || c == '&' || c == '>' || c == '<') break;
    in_word = true;
    if (c == '\'') {
      quote = Quote::kSingle;
    } else if (c == '"') {
      quote = Quote::kDouble;
    } else if (c == '$') {
      expand(i);
    } else {
      word += c;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

std::vector<std::string> curl_urls(const std::vector<std::string>& words) {
  // curl's options that take a value (the ones a doc would use).
  static const std::set<std::string, std::less<>> with_value = {"-d",
                                                                "--data",
                                                                "--data-raw",
                                                                "--data-binary",
                                                                "--data-urlencode",
                                                                "--json",
                                                                "-H",
                                                                "--header",
                                                                "-X",
                                                                "--request",
                                                                "-o",
                                                                "--output",
                                                                "-u",
                                                                "--user",
                                                                "-F",
                                                                "--form",
                                                                "-w",
                                                                "--write-out",
                                                                "-D",
                                                                "--dump-header",
                                                                "-A",
                                                                "--user-agent",
                                                                "-e",
                                                                "--referer",
                                                                "-b",
                                                                "--cookie",
                                                                "-c",
                                                                "--cookie-jar",
                                                                "-m",
                                                                "--max-time",
                                                                "--connect-timeout",
                                                                "-x",
                                                                "--proxy",
                                                                "-T",
                                                                "--upload-file",
                                                                "--retry",
                                                                "-r",
                                                                "--range",
                                                                "-E",
                                                                "--cert",
                                                                "--key",
                                                                "--cacert",
                                                                "-K",
                                                                "--config",
                                                                "--resolve",
                                                                "--connect-to",
                                                                "--noproxy",
                                                                "-z",
                                                                "--time-cond",
                                                                "-Y",
                                                                "--speed-limit",
                                                                "-y",
                                                                "--speed-time",
                                                                "--limit-rate",
                                                                "--oauth2-bearer"};
  std::vector<std::string> urls;
  for (std::size_t i = 1; i < words.size(); ++i) {  // words[0] is curl
    const std::string& w = words[i];
    if (w == "--url" && i + 1 < words.size()) {
      urls.push_back(words[++i]);
    } else if (w.starts_with("--")) {
      if (with_value.count(w) != 0) ++i;
    } else if (w.starts_with("-") && w.size() >= 2) {
      // Short options, possibly combined (-sS) or with their value attached (-XPOST): the
      // first one taking a value takes the rest of the word, or the next word.
      for (std::size_t k = 1; k < w.size(); ++k) {
        if (with_value.count(std::string("-") + w[k]) != 0) {
          if (k + 1 == w.size()) ++i;
          break;
        }
      }
    } else {
      urls.push_back(w);
    }
  }
  return urls;
}

CurlRun run_curl_command(const std::string& command, const std::map<std::string, std::string>& env,
                         std::chrono::seconds limit) {
  namespace fs = std::filesystem;
  static int counter = 0;
  const fs::path dir = fs::temp_directory_path();
  const std::string stem =
      "aigw_docs_curl_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
  const std::string heads = (dir / (stem + ".head")).string();
  const std::string output = (dir / (stem + ".out")).string();
  const std::string script = "curl() { command curl --noproxy '*' -sS --max-time " +
                             std::to_string(limit.count()) + " \"$@\" -D \"$AIGW_CURL_HEAD\"; }\n" +
                             command + "\n";

  std::vector<std::string> env_strings;
  for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
  const char* path = std::getenv("PATH");
  env_strings.push_back(std::string("PATH=") + (path != nullptr ? path : "/usr/bin:/bin"));
  env_strings.push_back("AIGW_CURL_HEAD=" + heads);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    const int null_in = ::open("/dev/null", O_RDONLY);
    if (null_in >= 0) ::dup2(null_in, 0);
    char sh[] = "/bin/sh";
    char dash_c[] = "-c";
    std::string body = script;
    char* argv[] = {sh, dash_c, body.data(), nullptr};
    ::execve("/bin/sh", argv, envp.data());
    _exit(127);
  }
  CurlRun run;
  const auto until = std::chrono::steady_clock::now() + limit + std::chrono::seconds(5);
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      break;
    }
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      run.exit_code = -2;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto slurp = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  run.output = slurp(output);
  // The head of each response curl received (redirects, 100 Continue): the last status line.
  static const std::regex status_re(R"(^HTTP/[0-9.]+ ([0-9]{3}))");
  static const std::regex log_id_re(R"(^cf-aig-log-id:\s*([^\s]+))", std::regex::icase);
  std::istringstream head(slurp(heads));
  for (std::string line; std::getline(head, line);) {
    std::smatch m;
    if (std::regex_search(line, m, status_re)) {
      run.status = static_cast<unsigned>(std::stoul(m[1]));
      run.log_id.clear();
    } else if (std::regex_search(line, m, log_id_re)) {
      run.log_id = m[1];
    }
  }
  std::error_code ec;
  fs::remove(heads, ec);
  fs::remove(output, ec);
  return run;
}

}  // namespace aigw::test
