// json::canonical: one spelling per JSON value. Checked on named cases, then on generated
// documents written with random spacing, member order and escapes: every spelling of one
// value must give the same text, and that text must parse (nlohmann) to the same value.

#include "json/canonical.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace aigw::json {
namespace {

std::string canon(std::string_view text) {
  auto out = canonical(text);
  return out ? *out : std::string("<invalid>");
}

TEST(JsonCanonical, WhitespaceAndMemberOrderDoNotMatter) {
  EXPECT_EQ(canon(R"({ "b" : 1, "a" : [1, 2] })"), R"({"a":[1,2],"b":1})");
  EXPECT_EQ(canon(" \t\r\n{\"z\":{\"y\":null,\"x\":true},\"a\":false}\n"),
            R"({"a":false,"z":{"x":true,"y":null}})");
  EXPECT_EQ(canon("\xEF\xBB\xBF[ ]"), "[]");
  EXPECT_EQ(canon("{ }"), "{}");
  EXPECT_EQ(canon(R"("plain")"), R"("plain")");
}

TEST(JsonCanonical, LargeObjectsSortToo) {
  std::string reversed = "{", sorted = "{";
  for (int i = 0; i < 40; ++i) {
    reversed += (i ? ",\"k" : "\"k") + std::to_string(99 - i) + "\":" + std::to_string(i);
    sorted += (i ? ",\"k" : "\"k") + std::to_string(60 + i) + "\":" + std::to_string(39 - i);
  }
  reversed += ",\"k\\u0036\\u0030\":\"last\"}";  // "k60" again, escaped: it wins
  sorted += "}";
  const std::string expected = sorted.replace(sorted.find("\"k60\":39"), 8, "\"k60\":\"last\"");
  EXPECT_EQ(canon(reversed), expected);
}

TEST(JsonCanonical, StringsHaveOneSpelling) {
  EXPECT_EQ(canon(R"(["\u0041\/\u00e9", "A/é"])"), R"(["A/é","A/é"])");
  EXPECT_EQ(canon(R"("\ud83d\ude00")"), "\"\xF0\x9F\x98\x80\"");
  EXPECT_EQ(canon(R"("\u0022\u005c\n\u0009\u0001")"), R"("\"\\\n\t\u0001")");
  // Members sort by their decoded names: "\u0062" is "b".
  EXPECT_EQ(canon(R"({"\u0062":1,"a":2,"c":3})"), R"({"a":2,"b":1,"c":3})");
}

TEST(JsonCanonical, RepeatedNamesKeepTheLast) {
  EXPECT_EQ(canon(R"({"a":1,"b":2,"a":3})"), R"({"a":3,"b":2})");
  EXPECT_EQ(canon(R"({"a":1,"\u0061":{"x":1}})"), R"({"a":{"x":1}})");
}

TEST(JsonCanonical, NumbersHaveOneSpelling) {
  EXPECT_EQ(canon("[1, 1.0, 1e0, 10E-1, 0.1e1]"), "[1,1,1,1,1]");
  EXPECT_EQ(canon("[0.70, 0.7, 7e-1]"), "[0.7,0.7,0.7]");
  EXPECT_EQ(canon("[-0, -0.0, 0]"), "[0,0,0]");
  EXPECT_EQ(canon("[100, 1e2, 1.5e300]"), "[100,100,1.5e+300]");
  EXPECT_EQ(canon("123456789012345678901234567890"), "123456789012345678901234567890");
  EXPECT_EQ(canon("1e400"), "1e400");  // beyond a double: kept as written
  EXPECT_EQ(canon("-12"), "-12");
}

TEST(JsonCanonical, WhatIsNotJsonHasNoCanonicalForm) {
  for (const char* bad : {"",
                          " ",
                          "{",
                          "}",
                          "[1,]",
                          "{\"a\":1,}",
                          "{\"a\" 1}",
                          "{a:1}",
                          "[01]",
                          "[1.]",
                          "[.5]",
                          "[1e]",
                          "[+1]",
                          "[-]",
                          "tru",
                          "nul",
                          "[true false]",
                          "\"abc",
                          "\"\\x\"",
                          "\"\\u12\"",
                          "\"\\ud800\"",
                          "\"\\udc00\"",
                          "\"\\ud800\\u0041\"",
                          "\"a\x01\"",
                          "1 2",
                          "[1]]",
                          "{\"a\":1}}",
                          "'a'"}) {
    EXPECT_FALSE(canonical(bad).has_value()) << bad;
  }
}

TEST(JsonCanonical, NestingIsBounded) {
  EXPECT_TRUE(canonical(std::string(512, '[') + std::string(512, ']')).has_value());
  EXPECT_FALSE(canonical(std::string(513, '[') + std::string(513, ']')).has_value());
}

// --- generated documents --------------------------------------------------------------------

class Writer {
 public:
  explicit Writer(std::mt19937& rng) : rng_(rng) {}

  // A random value (nlohmann) and one random spelling of it.
  nlohmann::json value(int depth) {
    const int kind = pick(depth > 3 ? 5 : 7);
    switch (kind) {
      case 0:
        return nullptr;
      case 1:
        return pick(2) == 0;
      case 2:
        return static_cast<std::int64_t>(pick(2001)) - 1000;
      case 3:
        return static_cast<double>(pick(20001) - 10000) / 100.0;
      case 4:
        return random_string();
      case 5: {
        nlohmann::json a = nlohmann::json::array();
        for (int i = pick(4); i > 0; --i) a.push_back(value(depth + 1));
        return a;
      }
      default: {
        nlohmann::json o = nlohmann::json::object();
        for (int i = pick(5); i > 0; --i) o[random_string()] = value(depth + 1);
        return o;
      }
    }
  }

  std::string spell(const nlohmann::json& v) {
    std::string out;
    write(v, out);
    return out;
  }

 private:
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  std::string random_string() {
    static const std::vector<std::string> kPieces = {"a",  "b", "model", "é", "\"", "\\",
                                                     "\n", "/", "\x01",  "😀", " ",  "Z"};
    std::string s;
    for (int i = pick(4); i > 0; --i) s += kPieces[static_cast<std::size_t>(pick(12))];
    return s;
  }

  void ws(std::string& out) {
    static const char* kWs[] = {"", "", " ", "\n  ", "\t", "\r\n"};
    out += kWs[pick(6)];
  }

  // A string, with each character written plainly or as a \u escape at random.
  void write_string(const std::string& s, std::string& out) {
    out += '"';
    for (std::size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      char buf[8];
      if (c == '"' || c == '\\' || c < 0x20 || (c < 0x80 && pick(4) == 0)) {
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else if (c == 0xF0) {  // the emoji: as a surrogate pair half of the time
        if (pick(2) == 0) {
          out += "\\ud83d\\ude00";
        } else {
          out.append(s, i, 4);
        }
        i += 3;
      } else {
        out += static_cast<char>(c);
      }
    }
    out += '"';
  }

  void write(const nlohmann::json& v, std::string& out) {
    ws(out);
    if (v.is_object()) {
      std::vector<std::string> keys;
      for (const auto& [k, _] : v.items()) keys.push_back(k);
      std::shuffle(keys.begin(), keys.end(), rng_);
      out += '{';
      for (std::size_t i = 0; i < keys.size(); ++i) {
        if (i > 0) out += ',';
        ws(out);
        write_string(keys[i], out);
        ws(out);
        out += ':';
        write(v.at(keys[i]), out);
      }
      ws(out);
      out += '}';
    } else if (v.is_array()) {
      out += '[';
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (i > 0) out += ',';
        write(v[i], out);
      }
      ws(out);
      out += ']';
    } else if (v.is_string()) {
      write_string(v.get<std::string>(), out);
    } else if (v.is_number_float() && pick(2) == 0) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.6e", v.get<double>());  // another spelling
      out += buf;
    } else {
      out += v.dump();
    }
    ws(out);
  }

  std::mt19937& rng_;
};

TEST(JsonCanonical, EverySpellingOfAValueGivesOneTextOfThatValue) {
  std::mt19937 rng(20261202);
  Writer writer(rng);
  for (int round = 0; round < 2000; ++round) {
    const nlohmann::json value = writer.value(0);
    const std::string first = writer.spell(value);
    const std::string second = writer.spell(value);
    const auto a = canonical(first);
    const auto b = canonical(second);
    ASSERT_TRUE(a.has_value()) << first;
    ASSERT_TRUE(b.has_value()) << second;
    EXPECT_EQ(*a, *b) << first << "\n" << second;
    EXPECT_EQ(canonical(*a), a) << "not idempotent: " << *a;
    // The canonical text is the same value: nlohmann compares 1 and 1.0 as equal too.
    EXPECT_EQ(nlohmann::json::parse(*a), nlohmann::json::parse(first)) << first;
  }
}

}  // namespace
}  // namespace aigw::json
