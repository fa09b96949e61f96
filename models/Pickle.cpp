#include "models/Pickle.h"

#include "core/Error.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <locale>
#include <sstream>
#include <unordered_map>

namespace panseg::models::pickle
{
namespace
{
using Kind = Value::Kind;

ValuePtr make(Kind k)
{
  auto v = std::make_shared<Value>();
  v->kind = k;
  return v;
}

ValuePtr makeInt(std::int64_t i)
{
  auto v = make(Kind::Int);
  v->integer = i;
  return v;
}

ValuePtr makeString(Kind k, std::string s)
{
  auto v = make(k);
  v->str = std::move(s);
  return v;
}

/// Parses a numpy dtype code ("f8", "<i4", "b1", "?", "O", "U10") into kind/itemsize/order.
void parseDtypeCode(const std::string& code, NumpyArray& a)
{
  std::size_t p = 0;
  a.byteOrder = '=';
  if (!code.empty() && (code[0] == '<' || code[0] == '>' || code[0] == '|' || code[0] == '='))
  {
    a.byteOrder = code[0];
    p = 1;
  }
  if (p >= code.size())
    throw Error("unsupported numpy dtype \"" + code + "\"");
  const char k = code[p];
  const std::string rest = code.substr(p + 1);
  int size = 0;
  for (const char c : rest)
  {
    if (c < '0' || c > '9' || size > 1000000)
    {
      size = -1;
      break;
    }
    size = size * 10 + (c - '0');
  }
  if (size < 0)
    throw Error("unsupported numpy dtype \"" + code + "\"");
  switch (k)
  {
  case '?':
    a.kind = 'b';
    a.itemSize = 1;
    break;
  case 'b':
    a.kind = rest.empty() ? 'i' : 'b';
    a.itemSize = rest.empty() ? 1 : size;
    break; // 'b' = int8, 'b1' = bool
  case 'B':
    a.kind = 'u';
    a.itemSize = 1;
    break;
  case 'f':
  case 'i':
  case 'u':
    a.kind = k;
    a.itemSize = size;
    break;
  case 'd':
    a.kind = 'f';
    a.itemSize = 8;
    break;
  case 'l':
  case 'q':
    a.kind = 'i';
    a.itemSize = 8;
    break;
  case 'O':
    a.kind = 'O';
    a.itemSize = 8;
    break;
  default:
    a.kind = k; // strings etc.: kept, not convertible to numbers
    a.itemSize = size;
  }
  if (a.isNumeric())
  {
    const bool ok = (a.kind == 'f' && (a.itemSize == 2 || a.itemSize == 4 || a.itemSize == 8)) ||
                    ((a.kind == 'i' || a.kind == 'u') &&
                     (a.itemSize == 1 || a.itemSize == 2 || a.itemSize == 4 || a.itemSize == 8)) ||
                    (a.kind == 'b' && a.itemSize == 1);
    if (!ok)
      throw Error("unsupported numpy dtype \"" + code + "\"");
  }
}

double halfToDouble(std::uint16_t h)
{
  const int sign = (h >> 15) & 1, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  double v;
  if (exp == 0)
    v = std::ldexp(static_cast<double>(mant), -24);
  else if (exp == 31)
    v = mant ? std::nan("") : HUGE_VAL;
  else
    v = std::ldexp(static_cast<double>(mant | 0x400), exp - 25);
  return sign ? -v : v;
}

bool hostLittleEndian()
{
  const std::uint16_t x = 1;
  std::uint8_t b;
  std::memcpy(&b, &x, 1);
  return b == 1;
}

std::string storageScalarType(const std::string& storageName)
{
  static const std::pair<const char*, const char*> table[] = {
      {"FloatStorage", "float32"},     {"DoubleStorage", "float64"}, {"HalfStorage", "float16"},
      {"BFloat16Storage", "bfloat16"}, {"LongStorage", "int64"},     {"IntStorage", "int32"},
      {"ShortStorage", "int16"},       {"CharStorage", "int8"},      {"ByteStorage", "uint8"},
      {"BoolStorage", "bool"}};
  for (const auto& e : table)
    if (storageName == e.first)
      return e.second;
  return {};
}

/// UTF-8 text whose code points are all < 256 -> the bytes they stand for (Python's latin1).
std::string latin1Bytes(const std::string& utf8, const std::string& context)
{
  std::string out;
  out.reserve(utf8.size());
  for (std::size_t i = 0; i < utf8.size();)
  {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80)
    {
      out += static_cast<char>(c);
      ++i;
    }
    else if ((c & 0xE0) == 0xC0 && i + 1 < utf8.size())
    {
      const unsigned cp = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(utf8[i + 1]) & 0x3Fu);
      if (cp > 0xFF)
        throw Error(context + ": _codecs.encode text is not latin-1");
      out += static_cast<char>(cp);
      i += 2;
    }
    else
      throw Error(context + ": _codecs.encode text is not latin-1");
  }
  return out;
}

class Unpickler
{
public:
  Unpickler(const std::uint8_t* data, std::size_t size, const std::string& source)
      : d_(data), n_(size), source_(source)
  {
  }

  ~Unpickler()
  {
    // On failure, cut every link first: a damaged file may have built reference cycles (which
    // shared_ptr would leak) or deep chains (whose recursive destruction could overflow the stack).
    if (succeeded_)
      return;
    for (const auto& v : all_)
    {
      v->items.clear();
      v->dict.clear();
      v->callable.reset();
      v->args.reset();
      v->state.reset();
      if (v->array)
        v->array->objects.clear();
    }
  }

  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;

  ValuePtr run()
  {
    while (true)
    {
      if (pos_ >= n_)
        fail("unexpected end of data (truncated pickle, no STOP opcode)");
      opStart_ = pos_;
      const std::uint8_t op = d_[pos_++];
      switch (op)
      {
      case 0x80: // PROTO
      {
        const int proto = u8();
        if (proto > 5)
          fail("unsupported pickle protocol " + std::to_string(proto));
        break;
      }
      case 0x95: // FRAME
        (void)take(8);
        break;
      case '.': // STOP
      {
        if (stack_.size() != 1 || !marks_.empty())
          fail("inconsistent stack at STOP");
        ValuePtr result = stack_.back();
        verifyTree(result.get());
        succeeded_ = true;
        return result;
      }
      case '(': // MARK
        marks_.push_back(stack_.size());
        break;
      case '0': // POP
        (void)pop();
        break;
      case '1': // POP_MARK
        (void)popMark();
        break;
      case '2': // DUP
        push(top());
        break;
      case 'N':
        push(make(Kind::None));
        break;
      case 0x88:
        push(makeBool(true));
        break;
      case 0x89:
        push(makeBool(false));
        break;
      case 'J':
        push(makeInt(static_cast<std::int32_t>(le(4))));
        break; // BININT
      case 'K':
        push(makeInt(static_cast<std::int64_t>(le(1))));
        break; // BININT1
      case 'M':
        push(makeInt(static_cast<std::int64_t>(le(2))));
        break; // BININT2
      case 0x8a:
        push(makeInt(longBytes(static_cast<std::size_t>(le(1)))));
        break; // LONG1
      case 0x8b:
        push(makeInt(longBytes(static_cast<std::size_t>(le(4)))));
        break; // LONG4
      case 'I':
        pushTextInt();
        break; // INT
      case 'L':
        pushTextInt();
        break;  // LONG (text)
      case 'G': // BINFLOAT (big-endian double)
      {
        const std::uint8_t* p = take(8);
        std::uint64_t bits = 0;
        for (int i = 0; i < 8; ++i)
          bits = (bits << 8) | p[i];
        double dv;
        std::memcpy(&dv, &bits, 8);
        auto v = make(Kind::Float);
        v->real = dv;
        push(v);
        break;
      }
      case 'F': // FLOAT (text)
      {
        std::istringstream in(line());
        in.imbue(std::locale::classic());
        auto v = make(Kind::Float);
        in >> v->real;
        if (in.fail())
          fail("malformed FLOAT");
        push(v);
        break;
      }
      case 'X':
        push(makeString(Kind::String, bytes(le(4))));
        break; // BINUNICODE
      case 0x8c:
        push(makeString(Kind::String, bytes(le(1))));
        break; // SHORT_BINUNICODE
      case 0x8d:
        push(makeString(Kind::String, bytes(le(8))));
        break; // BINUNICODE8
      case 'T':
        push(makeString(Kind::String, bytes(le(4))));
        break; // BINSTRING (py2 str)
      case 'U':
        push(makeString(Kind::String, bytes(le(1))));
        break; // SHORT_BINSTRING
      case 'B':
        push(makeString(Kind::Bytes, bytes(le(4))));
        break; // BINBYTES
      case 'C':
        push(makeString(Kind::Bytes, bytes(le(1))));
        break; // SHORT_BINBYTES
      case 0x8e:
        push(makeString(Kind::Bytes, bytes(le(8))));
        break; // BINBYTES8
      case 0x96:
        push(makeString(Kind::Bytes, bytes(le(8))));
        break; // BYTEARRAY8
      case 'V':
        push(makeString(Kind::String, line()));
        break; // UNICODE (raw-unicode-escape; ASCII subset)
      case ')':
        push(make(Kind::Tuple));
        break;
      case 't': // TUPLE
      {
        auto v = make(Kind::Tuple);
        v->items = popMark();
        push(v);
        break;
      }
      case 0x85:
      case 0x86:
      case 0x87: // TUPLE1..3
      {
        const std::size_t k = static_cast<std::size_t>(op - 0x84);
        if (stackAboveMark() < k)
          fail("stack underflow");
        auto v = make(Kind::Tuple);
        v->items.assign(stack_.end() - static_cast<std::ptrdiff_t>(k), stack_.end());
        stack_.resize(stack_.size() - k);
        push(v);
        break;
      }
      case ']':
        push(make(Kind::List));
        break;
      case 'l': // LIST
      {
        auto v = make(Kind::List);
        v->items = popMark();
        push(v);
        break;
      }
      case 'a': // APPEND
      {
        ValuePtr item = pop();
        appendTo(top(), {item});
        break;
      }
      case 'e': // APPENDS
      {
        auto items = popMark();
        appendTo(top(), items);
        break;
      }
      case '}':
        push(make(Kind::Dict));
        break;
      case 'd': // DICT
      {
        auto items = popMark();
        auto v = make(Kind::Dict);
        setItems(v, items);
        push(v);
        break;
      }
      case 's': // SETITEM
      {
        ValuePtr value = pop();
        ValuePtr key = pop();
        setItems(top(), {key, value});
        break;
      }
      case 'u': // SETITEMS
      {
        auto items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x8f:
        push(make(Kind::Set));
        break;   // EMPTY_SET
      case 0x90: // ADDITEMS
      {
        auto items = popMark();
        ValuePtr s = top();
        if (!s->is(Kind::Set))
          fail("ADDITEMS on a non-set");
        s->items.insert(s->items.end(), items.begin(), items.end());
        break;
      }
      case 0x91: // FROZENSET
      {
        auto v = make(Kind::Set);
        v->items = popMark();
        push(v);
        break;
      }
      case 'c': // GLOBAL "module\nname\n"
      {
        auto g = make(Kind::Global);
        g->module = line();
        g->name = line();
        push(g);
        break;
      }
      case 0x93: // STACK_GLOBAL
      {
        ValuePtr name = pop();
        ValuePtr module = pop();
        if (!module->is(Kind::String) || !name->is(Kind::String))
          fail("STACK_GLOBAL expects two strings");
        auto g = make(Kind::Global);
        g->module = module->str;
        g->name = name->str;
        push(g);
        break;
      }
      case 'R': // REDUCE
      {
        ValuePtr a = pop();
        ValuePtr f = pop();
        push(call(f, a));
        break;
      }
      case 0x81: // NEWOBJ
      {
        ValuePtr a = pop();
        ValuePtr cls = pop();
        push(call(cls, a));
        break;
      }
      case 0x92: // NEWOBJ_EX
      {
        (void)pop(); // kwargs
        ValuePtr a = pop();
        ValuePtr cls = pop();
        push(call(cls, a));
        break;
      }
      case 'b': // BUILD
      {
        ValuePtr st = pop();
        build(top(), st);
        break;
      }
      case 'Q': // BINPERSID
      {
        ValuePtr pid = pop();
        push(persistentLoad(pid));
        break;
      }
      case 'P':
        fail("text persistent ids (PERSID) are not supported");
      case 'h':
        push(memoGet(le(1)));
        break; // BINGET
      case 'j':
        push(memoGet(le(4)));
        break; // LONG_BINGET
      case 'g':
        push(memoGet(textIndex()));
        break; // GET
      case 'q':
        memoPut(le(1));
        break; // BINPUT
      case 'r':
        memoPut(le(4));
        break; // LONG_BINPUT
      case 'p':
        memoPut(textIndex());
        break; // PUT
      case 0x94:
        memoPut(memo_.size());
        break; // MEMOIZE
      default:
      {
        char buf[8];
        std::snprintf(buf, sizeof buf, "0x%02x", static_cast<unsigned>(op));
        fail(std::string("unsupported pickle opcode ") + buf);
      }
      }
    }
  }

private:
  const std::uint8_t* d_;
  std::size_t n_;
  const std::string& source_;
  std::size_t pos_ = 0;
  std::size_t opStart_ = 0;
  std::vector<ValuePtr> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, ValuePtr> memo_;
  std::vector<ValuePtr> all_; // every value ever pushed (see the destructor)
  bool succeeded_ = false;

  static constexpr std::size_t kMaxDepth = 2000;

  /// The result must be a tree-like DAG of bounded depth: no cycles (they would leak), no chains
  /// deeper than kMaxDepth (their destruction recurses).
  void verifyTree(const Value* root)
  {
    std::unordered_map<const Value*, int> state; // 1 = on the DFS path, 2 = done
    std::vector<std::pair<const Value*, std::size_t>> path;
    auto children = [](const Value* v)
    {
      std::vector<const Value*> c;
      for (const auto& i : v->items)
        c.push_back(i.get());
      for (const auto& kv : v->dict)
      {
        c.push_back(kv.first.get());
        c.push_back(kv.second.get());
      }
      for (const Value* p : {v->callable.get(), v->args.get(), v->state.get()})
        if (p)
          c.push_back(p);
      if (v->array)
        for (const auto& o : v->array->objects)
          c.push_back(o.get());
      return c;
    };
    std::vector<std::vector<const Value*>> kids;
    path.emplace_back(root, 0);
    kids.push_back(children(root));
    state[root] = 1;
    while (!path.empty())
    {
      auto& [node, next] = path.back();
      if (next == kids.back().size())
      {
        state[node] = 2;
        path.pop_back();
        kids.pop_back();
        continue;
      }
      const Value* child = kids.back()[next++];
      const int s = state[child];
      if (s == 1)
        fail("self-referencing structures are not supported");
      if (s == 2)
        continue;
      if (path.size() >= kMaxDepth)
        fail("nesting deeper than " + std::to_string(kMaxDepth) + " levels");
      state[child] = 1;
      path.emplace_back(child, 0);
      kids.push_back(children(child));
    }
  }

  [[noreturn]] void fail(const std::string& what) const
  {
    throw Error(source_ + ": malformed or unsupported pickle at byte " + std::to_string(opStart_) +
                ": " + what);
  }

  std::uint8_t u8() { return *take(1); }

  const std::uint8_t* take(std::uint64_t k)
  {
    if (k > n_ - pos_)
      fail("unexpected end of data (truncated pickle)");
    const std::uint8_t* p = d_ + pos_;
    pos_ += static_cast<std::size_t>(k);
    return p;
  }

  std::uint64_t le(int k)
  {
    const std::uint8_t* p = take(static_cast<std::uint64_t>(k));
    std::uint64_t v = 0;
    for (int i = k - 1; i >= 0; --i)
      v = (v << 8) | p[i];
    return v;
  }

  std::string bytes(std::uint64_t k)
  {
    const std::uint8_t* p = take(k);
    return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(k));
  }

  std::string line()
  {
    const std::size_t start = pos_;
    while (pos_ < n_ && d_[pos_] != '\n')
      ++pos_;
    if (pos_ >= n_)
      fail("unexpected end of data (truncated pickle)");
    std::string s(reinterpret_cast<const char*>(d_ + start), pos_ - start);
    ++pos_;
    return s;
  }

  std::uint64_t textIndex()
  {
    const std::string s = line();
    if (s.empty() || s.size() > 18)
      fail("malformed memo index");
    std::uint64_t v = 0;
    for (const char c : s)
    {
      if (c < '0' || c > '9')
        fail("malformed memo index");
      v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v;
  }

  void pushTextInt()
  {
    std::string s = line();
    if (!s.empty() && s.back() == 'L')
      s.pop_back();
    if (s == "00")
    {
      push(makeBool(false));
      return;
    }
    if (s == "01")
    {
      push(makeBool(true));
      return;
    }
    std::istringstream in(s);
    in.imbue(std::locale::classic());
    long long v = 0;
    in >> v;
    if (in.fail() || !in.eof())
      fail("malformed or too large text integer");
    push(makeInt(v));
  }

  std::int64_t longBytes(std::size_t k)
  {
    if (k == 0)
      return 0;
    if (k > 8)
    {
      // Accept wider encodings only when they are sign extensions of a 64-bit value.
      const std::uint8_t* p = take(k);
      const std::uint8_t ext = (p[7] & 0x80) ? 0xFF : 0x00;
      for (std::size_t i = 8; i < k; ++i)
        if (p[i] != ext)
          fail("integer wider than 64 bits");
      std::uint64_t v = 0;
      for (int i = 7; i >= 0; --i)
        v = (v << 8) | p[i];
      return static_cast<std::int64_t>(v);
    }
    const std::uint8_t* p = take(k);
    std::uint64_t v = 0;
    for (std::size_t i = k; i-- > 0;)
      v = (v << 8) | p[i];
    if (k < 8 && (p[k - 1] & 0x80))
      v |= ~std::uint64_t(0) << (8 * k);
    return static_cast<std::int64_t>(v);
  }

  static ValuePtr makeBool(bool b)
  {
    auto v = make(Kind::Bool);
    v->boolean = b;
    return v;
  }

  void push(ValuePtr v)
  {
    if (stack_.size() > 10'000'000)
      fail("stack too deep");
    all_.push_back(v);
    stack_.push_back(std::move(v));
  }

  std::size_t stackAboveMark() const
  {
    const std::size_t base = marks_.empty() ? 0 : marks_.back();
    return stack_.size() - base;
  }

  ValuePtr pop()
  {
    if (stackAboveMark() == 0)
      fail("stack underflow");
    ValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }

  const ValuePtr& top()
  {
    if (stackAboveMark() == 0)
      fail("stack underflow");
    return stack_.back();
  }

  std::vector<ValuePtr> popMark()
  {
    if (marks_.empty())
      fail("MARK expected");
    const std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }

  ValuePtr memoGet(std::uint64_t idx)
  {
    auto it = memo_.find(idx);
    if (it == memo_.end())
      fail("memo key " + std::to_string(idx) + " not found");
    return it->second;
  }

  void memoPut(std::uint64_t idx)
  {
    if (memo_.size() > 50'000'000)
      fail("memo too large");
    memo_[idx] = top();
  }

  void appendTo(const ValuePtr& target, const std::vector<ValuePtr>& items)
  {
    if (target->is(Kind::List) || target->is(Kind::Set))
    {
      target->items.insert(target->items.end(), items.begin(), items.end());
      return;
    }
    // list subclasses reconstructed via REDUCE keep their items on the opaque object
    if (target->is(Kind::Object))
    {
      target->items.insert(target->items.end(), items.begin(), items.end());
      return;
    }
    fail("APPEND(S) on a " + target->describe());
  }

  void setItems(const ValuePtr& target, const std::vector<ValuePtr>& kv)
  {
    if (kv.size() % 2 != 0)
      fail("odd number of items for SETITEMS");
    if (!target->is(Kind::Dict) && !target->is(Kind::Object))
      fail("SETITEM(S) on a " + target->describe());
    for (std::size_t i = 0; i < kv.size(); i += 2)
    {
      bool replaced = false;
      if (kv[i]->is(Kind::String) || kv[i]->is(Kind::Int))
        for (auto& e : target->dict)
          if (e.first->kind == kv[i]->kind && e.first->str == kv[i]->str &&
              e.first->integer == kv[i]->integer)
          {
            e.second = kv[i + 1];
            replaced = true;
            break;
          }
      if (!replaced)
        target->dict.emplace_back(kv[i], kv[i + 1]);
    }
  }

  const ValuePtr& arg(const ValuePtr& args, std::size_t i, const char* fn)
  {
    if (!args->is(Kind::Tuple) || args->items.size() <= i)
      fail(std::string(fn) + ": too few arguments");
    return args->items[i];
  }

  std::vector<std::int64_t> intTuple(const ValuePtr& v, const char* what)
  {
    if (!v->is(Kind::Tuple) && !v->is(Kind::List))
      fail(std::string(what) + " must be a tuple");
    std::vector<std::int64_t> out;
    for (const auto& e : v->items)
    {
      if (!e->is(Kind::Int))
        fail(std::string(what) + " must hold integers");
      out.push_back(e->integer);
    }
    return out;
  }

  ValuePtr call(const ValuePtr& f, const ValuePtr& a)
  {
    if (!a->is(Kind::Tuple))
      fail("call arguments are not a tuple");
    if (f->is(Kind::Global))
    {
      const std::string& m = f->module;
      const std::string& n = f->name;
      if (m == "collections" && n == "OrderedDict")
      {
        auto d = make(Kind::Dict);
        if (!a->items.empty())
        {
          const ValuePtr& init = a->items[0];
          if (!init->is(Kind::List) && !init->is(Kind::Tuple))
            fail("OrderedDict argument must be a list of pairs");
          for (const auto& pair : init->items)
          {
            if ((!pair->is(Kind::List) && !pair->is(Kind::Tuple)) || pair->items.size() != 2)
              fail("OrderedDict argument must be a list of pairs");
            setItems(d, {pair->items[0], pair->items[1]});
          }
        }
        return d;
      }
      if (m == "torch._utils" && n == "_rebuild_tensor_v2")
      {
        const ValuePtr& storage = arg(a, 0, "_rebuild_tensor_v2");
        if (!storage->is(Kind::Storage) || !storage->tensor)
          fail("_rebuild_tensor_v2: first argument is not a storage");
        const ValuePtr& off = arg(a, 1, "_rebuild_tensor_v2");
        if (!off->is(Kind::Int))
          fail("_rebuild_tensor_v2: storage offset is not an integer");
        auto t = make(Kind::Tensor);
        t->tensor = std::make_shared<TensorRef>(*storage->tensor);
        t->tensor->storageOffset = off->integer;
        t->tensor->sizes = intTuple(arg(a, 2, "_rebuild_tensor_v2"), "tensor size");
        t->tensor->strides = intTuple(arg(a, 3, "_rebuild_tensor_v2"), "tensor stride");
        if (t->tensor->sizes.size() != t->tensor->strides.size())
          fail("_rebuild_tensor_v2: size and stride differ in length");
        if (a->items.size() > 4 && a->items[4]->is(Kind::Bool))
          t->tensor->requiresGrad = a->items[4]->boolean;
        return t;
      }
      if (m == "torch._utils" &&
          (n == "_rebuild_parameter" || n == "_rebuild_parameter_with_state"))
      {
        const ValuePtr& t = arg(a, 0, "_rebuild_parameter");
        if (!t->is(Kind::Tensor))
          fail("_rebuild_parameter: first argument is not a tensor");
        return t;
      }
      if ((m == "numpy.core.multiarray" || m == "numpy._core.multiarray") && n == "scalar")
      {
        const ValuePtr& dt = arg(a, 0, "numpy scalar");
        if (!dt->is(Kind::NumpyDtype))
          fail("numpy scalar: first argument is not a dtype");
        auto v = make(Kind::NumpyArray);
        v->array = std::make_shared<NumpyArray>(*dt->array);
        if (a->items.size() > 1)
        {
          const ValuePtr& raw = a->items[1];
          if (raw->is(Kind::Bytes) || raw->is(Kind::String))
          {
            v->array->data.assign(raw->str.begin(), raw->str.end());
            if (v->array->isNumeric() &&
                v->array->data.size() != static_cast<std::size_t>(v->array->itemSize))
              fail("numpy scalar: payload size does not match its dtype");
          }
          else
            v->array->objects.push_back(raw);
        }
        return v;
      }
      if (m == "numpy" && n == "dtype")
      {
        const ValuePtr& code = arg(a, 0, "numpy.dtype");
        if (!code->is(Kind::String))
          fail("numpy.dtype: code is not a string");
        auto v = make(Kind::NumpyDtype);
        v->str = code->str;
        v->array = std::make_shared<NumpyArray>();
        parseDtypeCode(code->str, *v->array);
        return v;
      }
      if ((m == "numpy.core.multiarray" || m == "numpy._core.multiarray") && n == "_reconstruct")
      {
        auto v = make(Kind::NumpyArray);
        v->array = std::make_shared<NumpyArray>();
        return v;
      }
      if (m == "_codecs" && n == "encode")
      {
        const ValuePtr& text = arg(a, 0, "_codecs.encode");
        if (!text->is(Kind::String))
          fail("_codecs.encode: argument is not a string");
        std::string enc = "utf-8";
        if (a->items.size() > 1 && a->items[1]->is(Kind::String))
          enc = a->items[1]->str;
        if (enc == "latin1" || enc == "latin-1" || enc == "iso-8859-1")
          return makeString(Kind::Bytes, latin1Bytes(text->str, source_));
        return makeString(Kind::Bytes, text->str);
      }
      if ((m == "builtins" || m == "__builtin__") && (n == "set" || n == "frozenset"))
      {
        auto s = make(Kind::Set);
        if (!a->items.empty() && (a->items[0]->is(Kind::List) || a->items[0]->is(Kind::Tuple)))
          s->items = a->items[0]->items;
        return s;
      }
    }
    auto o = make(Kind::Object);
    o->callable = f;
    o->args = a;
    return o;
  }

  void build(const ValuePtr& obj, const ValuePtr& st)
  {
    if (obj->is(Kind::NumpyDtype))
    {
      // state: (version, byteorder, subarray, names, fields, elsize, alignment, flags)
      if (st->is(Kind::Tuple) && st->items.size() > 1 && st->items[1]->is(Kind::String) &&
          st->items[1]->str.size() == 1)
        obj->array->byteOrder = st->items[1]->str[0];
      obj->state = st;
      return;
    }
    if (obj->is(Kind::NumpyArray) && obj->array && obj->array->shape.empty() &&
        obj->array->data.empty() && st->is(Kind::Tuple) && st->items.size() == 5)
    {
      // ndarray state: (version, shape, dtype, is_fortran, rawdata)
      NumpyArray& arr = *obj->array;
      const ValuePtr& dt = st->items[2];
      if (!dt->is(Kind::NumpyDtype))
        fail("ndarray state: dtype missing");
      arr.kind = dt->array->kind;
      arr.itemSize = dt->array->itemSize;
      arr.byteOrder = dt->array->byteOrder;
      arr.shape = intTuple(st->items[1], "ndarray shape");
      if (!st->items[3]->is(Kind::Bool) && !st->items[3]->is(Kind::Int))
        fail("ndarray state: fortran flag missing");
      arr.fortranOrder =
          st->items[3]->is(Kind::Bool) ? st->items[3]->boolean : st->items[3]->integer != 0;
      const ValuePtr& raw = st->items[4];
      std::uint64_t count = 1;
      for (const auto s : arr.shape)
      {
        if (s < 0 || (s > 0 && count > (std::uint64_t(1) << 40) / static_cast<std::uint64_t>(s)))
          fail("ndarray state: implausible shape");
        count *= static_cast<std::uint64_t>(s);
      }
      if (raw->is(Kind::Bytes) || raw->is(Kind::String))
      {
        arr.data.assign(raw->str.begin(), raw->str.end());
        if (arr.isNumeric() && arr.data.size() != count * static_cast<std::uint64_t>(arr.itemSize))
          fail("ndarray state: data size does not match shape and dtype");
      }
      else if (raw->is(Kind::List))
      {
        arr.objects = raw->items;
        if (arr.objects.size() != count)
          fail("ndarray state: object count does not match shape");
      }
      else
        fail("ndarray state: unsupported data payload");
      return;
    }
    obj->state = st; // e.g. OrderedDict._metadata, opaque objects; not needed for loading
  }

  ValuePtr persistentLoad(const ValuePtr& pid)
  {
    // torch.save: ('storage', storage_type, key, location, numel)
    if (!pid->is(Kind::Tuple) || pid->items.size() < 5 || !pid->items[0]->is(Kind::String) ||
        pid->items[0]->str != "storage")
      fail("unsupported persistent id (expected a torch storage tuple)");
    const ValuePtr& type = pid->items[1];
    const ValuePtr& key = pid->items[2];
    const ValuePtr& loc = pid->items[3];
    const ValuePtr& numel = pid->items[4];
    if (!type->is(Kind::Global) || !key->is(Kind::String) || !loc->is(Kind::String) ||
        !numel->is(Kind::Int))
      fail("malformed torch storage persistent id");
    const std::string st = storageScalarType(type->name);
    if (st.empty())
      fail("unsupported storage type " + type->module + "." + type->name);
    auto v = make(Kind::Storage);
    v->tensor = std::make_shared<TensorRef>();
    v->tensor->scalarType = st;
    v->tensor->storageKey = key->str;
    v->tensor->location = loc->str;
    v->tensor->storageNumel = numel->integer;
    if (numel->integer < 0)
      fail("negative storage size");
    return v;
  }
};
} // namespace

std::size_t NumpyArray::elementCount() const
{
  std::size_t n = 1;
  for (const auto s : shape)
    n *= static_cast<std::size_t>(s);
  return n;
}

double NumpyArray::number(std::size_t i) const
{
  if (!isNumeric())
    throw Error(std::string("numpy array of kind '") + kind + "' is not numeric");
  const std::size_t sz = static_cast<std::size_t>(itemSize);
  if ((i + 1) * sz > data.size())
    throw Error("numpy array index out of range");
  std::uint8_t b[8] = {};
  std::memcpy(b, data.data() + i * sz, sz);
  const bool little =
      byteOrder == '<' || byteOrder == '|' || (byteOrder == '=' && hostLittleEndian());
  if (little != hostLittleEndian())
    for (std::size_t k = 0; k < sz / 2; ++k)
      std::swap(b[k], b[sz - 1 - k]);
  switch (kind)
  {
  case 'b':
    return b[0] ? 1.0 : 0.0;
  case 'f':
    if (sz == 8)
    {
      double v;
      std::memcpy(&v, b, 8);
      return v;
    }
    if (sz == 4)
    {
      float v;
      std::memcpy(&v, b, 4);
      return static_cast<double>(v);
    }
    {
      std::uint16_t h;
      std::memcpy(&h, b, 2);
      return halfToDouble(h);
    }
  case 'i':
    switch (sz)
    {
    case 1:
    {
      std::int8_t v;
      std::memcpy(&v, b, 1);
      return v;
    }
    case 2:
    {
      std::int16_t v;
      std::memcpy(&v, b, 2);
      return v;
    }
    case 4:
    {
      std::int32_t v;
      std::memcpy(&v, b, 4);
      return v;
    }
    default:
    {
      std::int64_t v;
      std::memcpy(&v, b, 8);
      return static_cast<double>(v);
    }
    }
  default:
    switch (sz)
    {
    case 1:
      return b[0];
    case 2:
    {
      std::uint16_t v;
      std::memcpy(&v, b, 2);
      return v;
    }
    case 4:
    {
      std::uint32_t v;
      std::memcpy(&v, b, 4);
      return v;
    }
    default:
    {
      std::uint64_t v;
      std::memcpy(&v, b, 8);
      return static_cast<double>(v);
    }
    }
  }
}

std::string Value::describe() const
{
  switch (kind)
  {
  case Kind::None:
    return "None";
  case Kind::Bool:
    return "bool";
  case Kind::Int:
    return "int";
  case Kind::Float:
    return "float";
  case Kind::String:
    return "str";
  case Kind::Bytes:
    return "bytes";
  case Kind::Tuple:
    return "tuple";
  case Kind::List:
    return "list";
  case Kind::Dict:
    return "dict";
  case Kind::Set:
    return "set";
  case Kind::Global:
    return "global " + module + "." + name;
  case Kind::Object:
    if (callable && callable->is(Kind::Global))
      return callable->module + "." + callable->name + "(...)";
    return "object";
  case Kind::Storage:
    return "torch storage";
  case Kind::Tensor:
    return "torch tensor";
  case Kind::NumpyDtype:
    return "numpy.dtype";
  case Kind::NumpyArray:
    return array && array->shape.empty() ? "numpy scalar" : "numpy.ndarray";
  case Kind::Mark:
    return "mark";
  }
  return "?";
}

const Value* Value::get(const std::string& key) const
{
  if (kind != Kind::Dict)
    return nullptr;
  for (const auto& kv : dict)
    if (kv.first->kind == Kind::String && kv.first->str == key)
      return kv.second.get();
  return nullptr;
}

const Value* Value::get(std::int64_t key) const
{
  if (kind != Kind::Dict)
    return nullptr;
  for (const auto& kv : dict)
    if (kv.first->kind == Kind::Int && kv.first->integer == key)
      return kv.second.get();
  return nullptr;
}

const Value& Value::at(const std::string& key, const std::string& context) const
{
  if (kind != Kind::Dict)
    throw Error(context + ": expected a dict, found " + describe());
  const Value* v = get(key);
  if (!v)
    throw Error(context + ": missing key '" + key + "'");
  return *v;
}

std::int64_t Value::asInt(const std::string& context) const
{
  if (kind == Kind::Int)
    return integer;
  if (kind == Kind::Bool)
    return boolean ? 1 : 0;
  if (kind == Kind::NumpyArray && array && array->elementCount() == 1 &&
      (array->kind == 'i' || array->kind == 'u' || array->kind == 'b'))
    return static_cast<std::int64_t>(array->number(0));
  if (kind == Kind::Float && std::floor(real) == real && std::fabs(real) < 9e15)
    return static_cast<std::int64_t>(real);
  if (kind == Kind::NumpyArray && array && array->elementCount() == 1 && array->kind == 'f')
  {
    const double d = array->number(0);
    if (std::floor(d) == d && std::fabs(d) < 9e15)
      return static_cast<std::int64_t>(d);
  }
  throw Error(context + ": expected an integer, found " + describe());
}

double Value::asDouble(const std::string& context) const
{
  if (kind == Kind::Float)
    return real;
  if (kind == Kind::Int)
    return static_cast<double>(integer);
  if (kind == Kind::Bool)
    return boolean ? 1.0 : 0.0;
  if (kind == Kind::NumpyArray && array && array->isNumeric() && array->elementCount() == 1)
    return array->number(0);
  throw Error(context + ": expected a number, found " + describe());
}

bool Value::asBool(const std::string& context) const
{
  if (kind == Kind::Bool)
    return boolean;
  if (kind == Kind::Int)
    return integer != 0;
  if (kind == Kind::NumpyArray && array && array->isNumeric() && array->elementCount() == 1)
    return array->number(0) != 0.0;
  throw Error(context + ": expected a boolean, found " + describe());
}

const std::string& Value::asString(const std::string& context) const
{
  if (kind != Kind::String)
    throw Error(context + ": expected a string, found " + describe());
  return str;
}

std::vector<double> Value::asDoubleList(const std::string& context) const
{
  std::vector<double> out;
  if (kind == Kind::List || kind == Kind::Tuple)
  {
    for (std::size_t i = 0; i < items.size(); ++i)
      out.push_back(items[i]->asDouble(context + "[" + std::to_string(i) + "]"));
    return out;
  }
  if (kind == Kind::NumpyArray && array && array->isNumeric() && array->shape.size() == 1)
  {
    for (std::size_t i = 0; i < array->elementCount(); ++i)
      out.push_back(array->number(i));
    return out;
  }
  throw Error(context + ": expected a list of numbers, found " + describe());
}

std::vector<std::int64_t> Value::asIntList(const std::string& context) const
{
  std::vector<std::int64_t> out;
  if (kind == Kind::List || kind == Kind::Tuple)
  {
    for (std::size_t i = 0; i < items.size(); ++i)
      out.push_back(items[i]->asInt(context + "[" + std::to_string(i) + "]"));
    return out;
  }
  if (kind == Kind::NumpyArray && array && array->isNumeric() && array->shape.size() == 1)
  {
    for (std::size_t i = 0; i < array->elementCount(); ++i)
    {
      const double d = array->number(i);
      if (std::floor(d) != d)
        throw Error(context + ": expected integers, found " + std::to_string(d));
      out.push_back(static_cast<std::int64_t>(d));
    }
    return out;
  }
  throw Error(context + ": expected a list of integers, found " + describe());
}

std::vector<std::vector<std::int64_t>> Value::asIntMatrix(const std::string& context) const
{
  std::vector<std::vector<std::int64_t>> out;
  if (kind == Kind::List || kind == Kind::Tuple)
  {
    for (std::size_t i = 0; i < items.size(); ++i)
      out.push_back(items[i]->asIntList(context + "[" + std::to_string(i) + "]"));
    return out;
  }
  if (kind == Kind::NumpyArray && array && array->isNumeric() && array->shape.size() == 2)
  {
    const auto rows = static_cast<std::size_t>(array->shape[0]),
               cols = static_cast<std::size_t>(array->shape[1]);
    for (std::size_t r = 0; r < rows; ++r)
    {
      std::vector<std::int64_t> row;
      for (std::size_t c = 0; c < cols; ++c)
      {
        const std::size_t idx = array->fortranOrder ? c * rows + r : r * cols + c;
        row.push_back(static_cast<std::int64_t>(array->number(idx)));
      }
      out.push_back(std::move(row));
    }
    return out;
  }
  throw Error(context + ": expected a list of integer lists, found " + describe());
}

ValuePtr unpickle(const std::uint8_t* data, std::size_t size, const std::string& sourceName)
{
  return Unpickler(data, size, sourceName).run();
}

ValuePtr unpickle(const std::vector<std::uint8_t>& bytes, const std::string& sourceName)
{
  return unpickle(bytes.data(), bytes.size(), sourceName);
}

ValuePtr unpickleFile(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error("cannot open file: " + path);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  if (in.bad())
    throw Error("cannot read file: " + path);
  if (bytes.empty())
    throw Error("empty file (expected a Python pickle): " + path);
  if (bytes[0] != 0x80)
    throw Error("not a binary Python pickle (no protocol header): " + path);
  return unpickle(bytes, path);
}
} // namespace panseg::models::pickle
