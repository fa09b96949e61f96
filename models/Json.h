#pragma once
// A small JSON reader for plans files and the parity fixture's index files.
// Pure C++ (no LibTorch) so it stays cheap to compile. Numbers are kept as double.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace panseg::models::json
{
class Value
{
public:
  enum class Type
  {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object
  };

  Type type = Type::Null;
  bool boolean = false;
  double number = 0.0;
  std::string string;
  std::vector<Value> array;
  std::vector<std::pair<std::string, Value>> object; // file order kept

  bool isNull() const { return type == Type::Null; }
  bool isObject() const { return type == Type::Object; }
  bool isArray() const { return type == Type::Array; }
  bool isNumber() const { return type == Type::Number; }
  bool isString() const { return type == Type::String; }
  bool isBool() const { return type == Type::Bool; }

  /// Member lookup; nullptr when absent or when this is not an object.
  const Value* find(const std::string& key) const;
  /// Member lookup that throws panseg::Error naming `context` and the key when absent.
  const Value& at(const std::string& key, const std::string& context) const;

  // Typed accessors; they throw panseg::Error naming `context` on a type mismatch.
  double asNumber(const std::string& context) const;
  std::int64_t asInt(const std::string& context) const; // must be integral
  bool asBool(const std::string& context) const;
  const std::string& asString(const std::string& context) const;
  std::vector<std::int64_t> asIntVector(const std::string& context) const;
  std::vector<double> asNumberVector(const std::string& context) const;
};

/// Parses `text`; throws panseg::Error with line:column and `sourceName` on malformed input.
Value parse(const std::string& text, const std::string& sourceName = "JSON text");
/// Reads and parses a file; throws panseg::Error when it cannot be read or parsed.
Value parseFile(const std::string& path);

/// Escapes a string for writing JSON (quotes included).
std::string quote(const std::string& s);

// Builders (model.json metrics and lineage).
/// A number; null when `v` is not finite (JSON has no NaN or infinity).
Value number(double v);
Value text(const std::string& s);
/// An array of strings.
Value strings(const std::vector<std::string>& items);
} // namespace panseg::models::json
