#pragma once
// A restricted, non-executing Python unpickler for the files nnU-Net v1 writes:
// torch.save's data.pkl (protocol 2) and the .model.pkl / plans.pkl companions (protocol 2-5).
//
// Nothing is ever executed: every GLOBAL becomes a symbolic value, and a handful of known
// callables are interpreted (collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// torch.*Storage persistent ids, numpy scalar/dtype/ndarray reconstruction, _codecs.encode,
// set/frozenset). Any other REDUCE/NEWOBJ result is kept as an opaque Object, so unrelated
// content (optimizer state, unknown classes) does not stop a load. Malformed input raises
// panseg::Error. Pure C++, no LibTorch.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace panseg::models::pickle
{
struct Value;
using ValuePtr = std::shared_ptr<Value>;

/// What torch._utils._rebuild_tensor_v2 describes: a strided view into a raw storage that lives
/// in the zip archive as `<prefix>/data/<storageKey>`.
struct TensorRef
{
  std::string storageKey;
  std::string scalarType; // "float32", "float64", "float16", "bfloat16", "int64", "int32", "int16",
                          // "int8", "uint8", "bool"
  std::string location;   // e.g. "cpu", "cuda:0"
  std::int64_t storageNumel = 0;
  std::int64_t storageOffset = 0; // in elements
  std::vector<std::int64_t> sizes;
  std::vector<std::int64_t> strides;
  bool requiresGrad = false;
};

/// A numpy ndarray or numpy scalar (shape empty).
struct NumpyArray
{
  char kind =
      'f'; // numpy kind: 'f' float, 'i' signed, 'u' unsigned, 'b' bool, 'O' object, 'U', 'S', ...
  int itemSize = 8;     // bytes per element (0 for unknown/variable)
  char byteOrder = '<'; // '<', '>', '|', '='
  std::vector<std::int64_t> shape;
  bool fortranOrder = false;
  std::vector<std::uint8_t> data; // raw element bytes (numeric dtypes)
  std::vector<ValuePtr> objects;  // elements of an object array

  std::size_t elementCount() const;
  bool isNumeric() const { return kind == 'f' || kind == 'i' || kind == 'u' || kind == 'b'; }
  /// Element i (flat, in storage order) converted to double; throws panseg::Error if not numeric.
  double number(std::size_t i) const;
};

struct Value
{
  enum class Kind
  {
    None,
    Bool,
    Int,
    Float,
    String,
    Bytes,
    Tuple,
    List,
    Dict,
    Set,
    Global,     // a class or function reference: module + name
    Object,     // result of an uninterpreted call: callable + args (+ state from BUILD)
    Storage,    // persistent id of a torch storage (tensor->storage fields set)
    Tensor,     // rebuilt tensor description (tensor set)
    NumpyDtype, // str = dtype code ("f8"), byteOrder in array->byteOrder
    NumpyArray, // array set (shape empty for numpy scalars)
    Mark        // internal to the unpickler
  };

  Kind kind = Kind::None;
  bool boolean = false;
  std::int64_t integer = 0;
  double real = 0.0;
  std::string str;                                 // String (UTF-8), Bytes (raw), NumpyDtype code
  std::string module;                              // Global
  std::string name;                                // Global
  std::vector<ValuePtr> items;                     // Tuple, List, Set
  std::vector<std::pair<ValuePtr, ValuePtr>> dict; // Dict, insertion order
  ValuePtr callable, args, state;                  // Object (state also for Dict/others)
  std::shared_ptr<TensorRef> tensor;               // Storage, Tensor
  std::shared_ptr<NumpyArray> array;               // NumpyArray, NumpyDtype

  bool is(Kind k) const { return kind == k; }
  bool isNone() const { return kind == Kind::None; }
  /// Short description for error messages ("dict", "numpy.ndarray", "collections.Counter(...)").
  std::string describe() const;

  /// Dict lookup by string key; nullptr when absent or not a dict.
  const Value* get(const std::string& key) const;
  /// Dict lookup by integer key; nullptr when absent or not a dict.
  const Value* get(std::int64_t key) const;
  /// Like get() but throws panseg::Error naming `context` and the key when absent.
  const Value& at(const std::string& key, const std::string& context) const;

  // Conversions that accept Python ints/floats/bools and numpy scalars / 0-d arrays; they throw
  // panseg::Error naming `context` on a type mismatch.
  std::int64_t asInt(const std::string& context) const;
  double asDouble(const std::string& context) const;
  bool asBool(const std::string& context) const;
  const std::string& asString(const std::string& context) const;
  /// list/tuple of numbers, or a 1-D numpy array.
  std::vector<std::int64_t> asIntList(const std::string& context) const;
  std::vector<double> asDoubleList(const std::string& context) const;
  /// list/tuple of lists/tuples/arrays of ints (e.g. pool_op_kernel_sizes), or a 2-D numpy array.
  std::vector<std::vector<std::int64_t>> asIntMatrix(const std::string& context) const;
};

/// Unpickles `size` bytes. `sourceName` is used in error messages.
ValuePtr unpickle(const std::uint8_t* data, std::size_t size, const std::string& sourceName);
ValuePtr unpickle(const std::vector<std::uint8_t>& bytes, const std::string& sourceName);
/// Reads a whole file and unpickles it.
ValuePtr unpickleFile(const std::string& path);
} // namespace panseg::models::pickle
