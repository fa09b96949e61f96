#include "models/Json.h"

#include "core/Error.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <locale>
#include <sstream>

namespace panseg::models::json
{
namespace
{
constexpr int kMaxDepth = 256;

class Parser
{
public:
  Parser(const std::string& text, const std::string& source) : text_(text), source_(source) {}

  Value parseDocument()
  {
    skipSpace();
    Value v = parseValue(0);
    skipSpace();
    if (pos_ != text_.size())
      fail("unexpected trailing characters");
    return v;
  }

private:
  const std::string& text_;
  const std::string& source_;
  std::size_t pos_ = 0;

  [[noreturn]] void fail(const std::string& what) const
  {
    std::size_t line = 1, col = 1;
    for (std::size_t i = 0; i < pos_ && i < text_.size(); ++i)
    {
      if (text_[i] == '\n')
      {
        ++line;
        col = 1;
      }
      else
        ++col;
    }
    throw Error(source_ + ":" + std::to_string(line) + ":" + std::to_string(col) +
                ": malformed JSON: " + what);
  }

  void skipSpace()
  {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }

  bool consumeLiteral(const char* lit)
  {
    std::size_t n = 0;
    while (lit[n] != '\0')
      ++n;
    if (text_.compare(pos_, n, lit) == 0)
    {
      pos_ += n;
      return true;
    }
    return false;
  }

  Value parseValue(int depth)
  {
    if (depth > kMaxDepth)
      fail("nesting too deep");
    if (pos_ >= text_.size())
      fail("unexpected end of input");
    const char c = text_[pos_];
    Value v;
    if (c == '{')
    {
      v.type = Value::Type::Object;
      ++pos_;
      skipSpace();
      if (pos_ < text_.size() && text_[pos_] == '}')
      {
        ++pos_;
        return v;
      }
      while (true)
      {
        skipSpace();
        if (pos_ >= text_.size() || text_[pos_] != '"')
          fail("expected a string key");
        std::string key = parseString();
        skipSpace();
        if (pos_ >= text_.size() || text_[pos_] != ':')
          fail("expected ':'");
        ++pos_;
        skipSpace();
        v.object.emplace_back(std::move(key), parseValue(depth + 1));
        skipSpace();
        if (pos_ < text_.size() && text_[pos_] == ',')
        {
          ++pos_;
          continue;
        }
        if (pos_ < text_.size() && text_[pos_] == '}')
        {
          ++pos_;
          return v;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c == '[')
    {
      v.type = Value::Type::Array;
      ++pos_;
      skipSpace();
      if (pos_ < text_.size() && text_[pos_] == ']')
      {
        ++pos_;
        return v;
      }
      while (true)
      {
        skipSpace();
        v.array.push_back(parseValue(depth + 1));
        skipSpace();
        if (pos_ < text_.size() && text_[pos_] == ',')
        {
          ++pos_;
          continue;
        }
        if (pos_ < text_.size() && text_[pos_] == ']')
        {
          ++pos_;
          return v;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c == '"')
    {
      v.type = Value::Type::String;
      v.string = parseString();
      return v;
    }
    if (consumeLiteral("true"))
    {
      v.type = Value::Type::Bool;
      v.boolean = true;
      return v;
    }
    if (consumeLiteral("false"))
    {
      v.type = Value::Type::Bool;
      return v;
    }
    if (consumeLiteral("null"))
      return v;
    if (c == '-' || (c >= '0' && c <= '9'))
    {
      v.type = Value::Type::Number;
      v.number = parseNumber();
      return v;
    }
    fail(std::string("unexpected character '") + c + "'");
  }

  double parseNumber()
  {
    const std::size_t start = pos_;
    if (text_[pos_] == '-')
      ++pos_;
    auto digits = [&]
    {
      const std::size_t s = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9')
        ++pos_;
      return pos_ - s;
    };
    if (digits() == 0)
      fail("malformed number");
    if (pos_ < text_.size() && text_[pos_] == '.')
    {
      ++pos_;
      if (digits() == 0)
        fail("malformed number");
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E'))
    {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-'))
        ++pos_;
      if (digits() == 0)
        fail("malformed number");
    }
    // strtod is locale dependent for the decimal point; use a stream imbued with "C".
    std::istringstream in(text_.substr(start, pos_ - start));
    in.imbue(std::locale::classic());
    double d = 0.0;
    in >> d;
    if (in.fail())
      fail("number out of range");
    return d;
  }

  static void appendUtf8(std::string& out, std::uint32_t cp)
  {
    if (cp < 0x80)
      out += static_cast<char>(cp);
    else if (cp < 0x800)
    {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
    else if (cp < 0x10000)
    {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
    else
    {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::uint32_t parseHex4()
  {
    if (pos_ + 4 > text_.size())
      fail("truncated \\u escape");
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
    {
      const char h = text_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9')
        v |= static_cast<std::uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f')
        v |= static_cast<std::uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F')
        v |= static_cast<std::uint32_t>(h - 'A' + 10);
      else
        fail("bad \\u escape");
    }
    return v;
  }

  std::string parseString()
  {
    ++pos_; // opening quote
    std::string out;
    while (true)
    {
      if (pos_ >= text_.size())
        fail("unterminated string");
      const char c = text_[pos_++];
      if (c == '"')
        return out;
      if (static_cast<unsigned char>(c) < 0x20)
        fail("control character in string");
      if (c != '\\')
      {
        out += c;
        continue;
      }
      if (pos_ >= text_.size())
        fail("unterminated escape");
      const char e = text_[pos_++];
      switch (e)
      {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u':
      {
        std::uint32_t cp = parseHex4();
        if (cp >= 0xD800 && cp <= 0xDBFF && pos_ + 6 <= text_.size() && text_[pos_] == '\\' &&
            text_[pos_ + 1] == 'u')
        {
          pos_ += 2;
          const std::uint32_t lo = parseHex4();
          if (lo < 0xDC00 || lo > 0xDFFF)
            fail("bad surrogate pair");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        appendUtf8(out, cp);
        break;
      }
      default:
        fail("unknown escape");
      }
    }
  }
};

const char* typeName(Value::Type t)
{
  switch (t)
  {
  case Value::Type::Null:
    return "null";
  case Value::Type::Bool:
    return "boolean";
  case Value::Type::Number:
    return "number";
  case Value::Type::String:
    return "string";
  case Value::Type::Array:
    return "array";
  case Value::Type::Object:
    return "object";
  }
  return "?";
}

[[noreturn]] void typeError(const std::string& context, const char* wanted, Value::Type got)
{
  throw Error(context + ": expected " + wanted + ", found " + typeName(got));
}
} // namespace

const Value* Value::find(const std::string& key) const
{
  if (type != Type::Object)
    return nullptr;
  for (const auto& kv : object)
    if (kv.first == key)
      return &kv.second;
  return nullptr;
}

const Value& Value::at(const std::string& key, const std::string& context) const
{
  if (type != Type::Object)
    typeError(context, "object", type);
  const Value* v = find(key);
  if (!v)
    throw Error(context + ": missing key \"" + key + "\"");
  return *v;
}

double Value::asNumber(const std::string& context) const
{
  if (type != Type::Number)
    typeError(context, "number", type);
  return number;
}

std::int64_t Value::asInt(const std::string& context) const
{
  const double d = asNumber(context);
  if (std::floor(d) != d || std::fabs(d) > 9.0e15)
    throw Error(context + ": expected an integer, found " + std::to_string(d));
  return static_cast<std::int64_t>(d);
}

bool Value::asBool(const std::string& context) const
{
  if (type != Type::Bool)
    typeError(context, "boolean", type);
  return boolean;
}

const std::string& Value::asString(const std::string& context) const
{
  if (type != Type::String)
    typeError(context, "string", type);
  return string;
}

std::vector<std::int64_t> Value::asIntVector(const std::string& context) const
{
  if (type != Type::Array)
    typeError(context, "array", type);
  std::vector<std::int64_t> out;
  out.reserve(array.size());
  for (std::size_t i = 0; i < array.size(); ++i)
    out.push_back(array[i].asInt(context + "[" + std::to_string(i) + "]"));
  return out;
}

std::vector<double> Value::asNumberVector(const std::string& context) const
{
  if (type != Type::Array)
    typeError(context, "array", type);
  std::vector<double> out;
  out.reserve(array.size());
  for (std::size_t i = 0; i < array.size(); ++i)
    out.push_back(array[i].asNumber(context + "[" + std::to_string(i) + "]"));
  return out;
}

Value parse(const std::string& text, const std::string& sourceName)
{
  return Parser(text, sourceName).parseDocument();
}

Value parseFile(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error("cannot open JSON file: " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad())
    throw Error("cannot read JSON file: " + path);
  return parse(ss.str(), path);
}

std::string quote(const std::string& s)
{
  std::string out = "\"";
  for (const char c : s)
  {
    switch (c)
    {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20)
      {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x",
                      static_cast<unsigned>(static_cast<unsigned char>(c)));
        out += buf;
      }
      else
        out += c;
    }
  }
  out += '"';
  return out;
}
Value number(double v)
{
  Value x;
  if (std::isfinite(v))
  {
    x.type = Value::Type::Number;
    x.number = v;
  }
  return x;
}

Value text(const std::string& s)
{
  Value x;
  x.type = Value::Type::String;
  x.string = s;
  return x;
}

Value strings(const std::vector<std::string>& items)
{
  Value x;
  x.type = Value::Type::Array;
  for (const std::string& s : items)
    x.array.push_back(text(s));
  return x;
}
} // namespace panseg::models::json
