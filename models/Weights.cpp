#include "models/Weights.h"

#include "core/Error.h"
#include "models/Json.h"
#include "models/Pickle.h"
#include "models/Zip.h"

#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <unordered_map>

namespace panseg::models
{
namespace
{
bool hostIsLittleEndian()
{
  const std::uint16_t x = 1;
  std::uint8_t b;
  std::memcpy(&b, &x, 1);
  return b == 1;
}

void requireLittleEndianHost()
{
  if (!hostIsLittleEndian())
    throw Error("weight files are little-endian; big-endian hosts are not supported");
}

void collectState(const torch::nn::Module& m, const std::string& prefix, StateDict& out)
{
  for (const auto& p : m.named_parameters(/*recurse=*/false))
    if (p.value().defined())
      out.emplace_back(prefix + p.key(), p.value());
  for (const auto& b : m.named_buffers(/*recurse=*/false))
    if (b.value().defined())
      out.emplace_back(prefix + b.key(), b.value());
  for (const auto& c : m.named_children())
    collectState(*c.value(), prefix + c.key() + ".", out);
}

torch::ScalarType scalarTypeFromName(const std::string& name, const std::string& context)
{
  static const std::map<std::string, torch::ScalarType> table = {
      {"float32", torch::kFloat},     {"float64", torch::kDouble}, {"float16", torch::kHalf},
      {"bfloat16", torch::kBFloat16}, {"int64", torch::kLong},     {"int32", torch::kInt},
      {"int16", torch::kShort},       {"int8", torch::kChar},      {"uint8", torch::kByte},
      {"bool", torch::kBool}};
  const auto it = table.find(name);
  if (it == table.end())
    throw Error(context + ": unsupported dtype '" + name + "'");
  return it->second;
}

std::vector<std::uint8_t> readWholeFile(const std::string& path, const char* what)
{
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(std::string("cannot open ") + what + ": " + path);
  in.seekg(0, std::ios::end);
  const auto size = in.tellg();
  if (size < 0)
    throw Error(std::string("cannot read ") + what + ": " + path);
  in.seekg(0);
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!in && !bytes.empty())
    throw Error(std::string("cannot read ") + what + ": " + path);
  return bytes;
}

bool startsWith(const std::string& s, const std::string& prefix)
{
  return s.rfind(prefix, 0) == 0;
}

/// Index of "<prefix><n><suffix>" keys: the set of n.
std::set<std::int64_t> indexedKeys(const StateDict& weights, const std::string& prefix,
                                   const std::string& suffix)
{
  std::set<std::int64_t> out;
  for (const auto& kv : weights)
  {
    const std::string& k = kv.first;
    if (!startsWith(k, prefix) || k.size() <= prefix.size() + suffix.size() ||
        k.compare(k.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string mid = k.substr(prefix.size(), k.size() - prefix.size() - suffix.size());
    if (mid.empty() || mid.size() > 6 || mid.find_first_not_of("0123456789") != std::string::npos)
      continue;
    out.insert(std::stoll(mid));
  }
  return out;
}
} // namespace

std::string shapeToString(c10::IntArrayRef shape)
{
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

StateDict stateDictOf(const torch::nn::Module& module)
{
  StateDict out;
  collectState(module, "", out);
  return out;
}

void loadStateDict(torch::nn::Module& module, const StateDict& weights)
{
  const StateDict expected = stateDictOf(module);
  bool prefixed = !weights.empty();
  for (const auto& kv : weights)
    prefixed = prefixed && startsWith(kv.first, "module.");
  std::unordered_map<std::string, const torch::Tensor*> incoming;
  for (const auto& kv : weights)
  {
    const std::string key = prefixed ? kv.first.substr(7) : kv.first;
    if (!incoming.emplace(key, &kv.second).second)
      throw Error("weights contain key '" + key + "' twice");
  }
  // Check everything first so that a failed load leaves the module untouched.
  std::set<std::string> known;
  for (const auto& kv : expected)
  {
    known.insert(kv.first);
    const auto it = incoming.find(kv.first);
    if (it == incoming.end())
      throw Error("weights do not match the network: missing key '" + kv.first +
                  "' (network shape " + shapeToString(kv.second.sizes()) + ")");
    const torch::Tensor& src = *it->second;
    if (!src.defined())
      throw Error("weights do not match the network: key '" + kv.first + "' holds no tensor");
    if (src.sizes() != kv.second.sizes())
      throw Error("weights do not match the network: key '" + kv.first + "' has shape " +
                  shapeToString(src.sizes()) + " in the weights but " +
                  shapeToString(kv.second.sizes()) + " in the network");
    if (!src.is_floating_point())
      throw Error("weights do not match the network: key '" + kv.first +
                  "' is not a floating-point tensor");
  }
  for (const auto& kv : weights)
  {
    const std::string key = prefixed ? kv.first.substr(7) : kv.first;
    if (!known.count(key))
      throw Error("weights do not match the network: unexpected key '" + key +
                  "' (not part of this network)");
  }
  torch::NoGradGuard noGrad;
  for (const auto& kv : expected)
  {
    torch::Tensor dst = kv.second;
    dst.copy_(*incoming.at(kv.first));
  }
}

StateDict readFixtureWeights(const std::string& binPath, const std::string& indexJsonPath)
{
  requireLittleEndianHost();
  const json::Value index = json::parseFile(indexJsonPath);
  const std::vector<std::uint8_t> bin = readWholeFile(binPath, "weights file");
  const std::string ctx = indexJsonPath;
  if (const json::Value* total = index.find("total_bytes"))
    if (total->asInt(ctx + ": total_bytes") != static_cast<std::int64_t>(bin.size()))
      throw Error(binPath + " has " + std::to_string(bin.size()) + " bytes but its index says " +
                  std::to_string(total->asInt(ctx)) + " (truncated or mismatched file)");
  const json::Value& tensors = index.at("tensors", ctx);
  if (!tensors.isArray())
    throw Error(ctx + ": \"tensors\" must be an array");
  StateDict out;
  for (std::size_t i = 0; i < tensors.array.size(); ++i)
  {
    const json::Value& t = tensors.array[i];
    const std::string tctx = ctx + ": tensors[" + std::to_string(i) + "]";
    const std::string& name = t.at("name", tctx).asString(tctx + ".name");
    const auto shape = t.at("shape", tctx).asIntVector(tctx + ".shape");
    const torch::ScalarType dtype =
        scalarTypeFromName(t.at("dtype", tctx).asString(tctx + ".dtype"), tctx);
    const std::int64_t offset = t.at("offset", tctx).asInt(tctx + ".offset");
    const std::int64_t nbytes = t.at("nbytes", tctx).asInt(tctx + ".nbytes");
    std::int64_t numel = 1;
    for (const auto s : shape)
    {
      if (s < 0)
        throw Error(tctx + ": negative dimension");
      numel *= s;
    }
    const auto elem = static_cast<std::int64_t>(c10::elementSize(dtype));
    if (nbytes != numel * elem)
      throw Error(tctx + " (" + name + "): nbytes " + std::to_string(nbytes) +
                  " does not match shape " + shapeToString(shape));
    if (offset < 0 || offset + nbytes > static_cast<std::int64_t>(bin.size()))
      throw Error(tctx + " (" + name + ") lies beyond the end of " + binPath +
                  " (truncated file?)");
    torch::Tensor tensor = torch::empty(shape, torch::TensorOptions().dtype(dtype));
    std::memcpy(tensor.data_ptr(), bin.data() + offset, static_cast<std::size_t>(nbytes));
    out.emplace_back(name, tensor);
  }
  return out;
}

NnUNetCheckpoint readNnUNetCheckpoint(const std::string& path)
{
  requireLittleEndianHost();
  {
    std::ifstream probe(path, std::ios::binary);
    if (!probe)
      throw Error("cannot open checkpoint: " + path);
    unsigned char magic[4] = {0, 0, 0, 0};
    probe.read(reinterpret_cast<char*>(magic), 4);
    if (probe.gcount() < 4)
      throw Error("checkpoint is empty or truncated (" + std::to_string(probe.gcount()) +
                  " bytes): " + path);
    if (magic[0] == 0x80 && magic[1] <= 5)
      throw Error(
          "checkpoint is a plain Python pickle, not a torch.save zip archive (a .pkl file, or the "
          "legacy pre-PyTorch-1.6 format, which is not supported; re-save it with a current "
          "PyTorch): " +
          path);
    if (!(magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4))
      throw Error("not a PyTorch checkpoint (no zip signature at the start of the file): " + path);
  }
  try
  {
    const ZipArchive zip(path);
    const ZipArchive::Entry* pklEntry = nullptr;
    for (const auto& e : zip.entries())
    {
      const auto slash = e.name.find('/');
      if (slash != std::string::npos && e.name.compare(slash, std::string::npos, "/data.pkl") == 0)
      {
        pklEntry = &e;
        break;
      }
    }
    if (!pklEntry)
      throw Error(
          "the archive holds no <name>/data.pkl entry, so it was not written by torch.save");
    const std::string prefix =
        pklEntry->name.substr(0, pklEntry->name.size() - std::string("data.pkl").size());
    const pickle::ValuePtr root =
        pickle::unpickle(zip.read(*pklEntry), path + ":" + pklEntry->name);
    using Kind = pickle::Value::Kind;
    if (!root->is(Kind::Dict))
      throw Error("top-level object is a " + root->describe() + ", expected a dict");

    NnUNetCheckpoint out;
    const pickle::Value* sd = root->get("state_dict");
    if (!sd && (sd = root->get("network_weights")) != nullptr)
    {
      // nnU-Net v2
      out.v2 = true;
      if (const pickle::Value* e = root->get("current_epoch"); e && !e->isNone())
        out.epoch = e->asInt("checkpoint 'current_epoch'");
      if (const pickle::Value* t = root->get("trainer_name"); t && t->is(Kind::String))
        out.trainerName = t->str;
      if (const pickle::Value* a = root->get("init_args"); a && a->is(Kind::Dict))
        if (const pickle::Value* c = a->get("configuration"); c && c->is(Kind::String))
          out.configuration = c->str;
      if (const pickle::Value* m = root->get("inference_allowed_mirroring_axes"); m && !m->isNone())
      {
        out.hasMirrorAxes = true;
        out.mirrorAxes = m->asIntList("checkpoint 'inference_allowed_mirroring_axes'");
      }
      if (!sd->is(Kind::Dict))
        throw Error("'network_weights' is a " + sd->describe() + ", expected a dict");
    }
    else if (sd)
    {
      if (const pickle::Value* epoch = root->get("epoch"))
        out.epoch = epoch->asInt("checkpoint 'epoch'");
      if (!sd->is(Kind::Dict))
        throw Error("'state_dict' is a " + sd->describe() + ", expected a dict");
    }
    else
    {
      // A bare state dict (torch.save(model.state_dict(), ...)) is accepted too.
      bool allTensors = !root->dict.empty();
      for (const auto& kv : root->dict)
        allTensors = allTensors && kv.second->is(Kind::Tensor);
      if (!allTensors)
        throw Error("no 'state_dict' (v1) or 'network_weights' (v2) entry (not an nnU-Net checkpoint)");
      sd = root.get();
    }

    std::unordered_map<std::string, torch::Tensor> storages;
    for (const auto& kv : sd->dict)
    {
      if (!kv.first->is(Kind::String))
        throw Error("state_dict has a non-string key (" + kv.first->describe() + ")");
      const std::string& name = kv.first->str;
      if (!kv.second->is(Kind::Tensor) || !kv.second->tensor)
        throw Error("state_dict entry '" + name + "' is a " + kv.second->describe() +
                    ", not a tensor");
      const pickle::TensorRef& ref = *kv.second->tensor;
      const torch::ScalarType dtype =
          scalarTypeFromName(ref.scalarType, "state_dict entry '" + name + "'");
      auto sit = storages.find(ref.storageKey);
      if (sit == storages.end())
      {
        const std::string entryName = prefix + "data/" + ref.storageKey;
        const ZipArchive::Entry* entry = zip.find(entryName);
        if (!entry)
          throw Error("storage '" + entryName + "' of '" + name + "' is missing from the archive");
        const auto elem = static_cast<std::uint64_t>(c10::elementSize(dtype));
        if (entry->uncompressedSize != static_cast<std::uint64_t>(ref.storageNumel) * elem)
          throw Error("storage '" + entryName + "' has " + std::to_string(entry->uncompressedSize) +
                      " bytes, expected " + std::to_string(ref.storageNumel) + " elements of " +
                      std::to_string(elem) + " bytes");
        const std::vector<std::uint8_t> bytes = zip.read(*entry);
        torch::Tensor storage =
            torch::empty({ref.storageNumel}, torch::TensorOptions().dtype(dtype));
        if (!bytes.empty())
          std::memcpy(storage.data_ptr(), bytes.data(), bytes.size());
        sit = storages.emplace(ref.storageKey, storage).first;
      }
      // Bounds of the strided view inside its storage.
      if (ref.storageOffset < 0)
        throw Error("state_dict entry '" + name + "' has a negative storage offset");
      std::int64_t last = ref.storageOffset;
      bool empty = false;
      for (std::size_t d = 0; d < ref.sizes.size(); ++d)
      {
        if (ref.sizes[d] < 0 || ref.strides[d] < 0)
          throw Error("state_dict entry '" + name + "' has a negative size or stride");
        if (ref.sizes[d] == 0)
          empty = true;
        else
          last += (ref.sizes[d] - 1) * ref.strides[d];
      }
      if (!empty && last >= ref.storageNumel)
        throw Error("state_dict entry '" + name + "' reaches past the end of its storage");
      torch::Tensor t = sit->second.as_strided(ref.sizes, ref.strides, ref.storageOffset)
                            .clone(at::MemoryFormat::Contiguous);
      out.stateDict.emplace_back(name, t);
    }
    if (out.stateDict.empty())
      throw Error("the state_dict is empty");
    return out;
  }
  catch (const Error& e)
  {
    throw Error("cannot read checkpoint " + path + ": " + e.what());
  }
}

PlanConfig planMatchingStateDict(PlanConfig plan, const StateDict& weights)
{
  std::unordered_map<std::string, const torch::Tensor*> byName;
  for (const auto& kv : weights)
    byName.emplace(startsWith(kv.first, "module.") ? kv.first.substr(7) : kv.first, &kv.second);
  auto get = [&](const std::string& key) -> const torch::Tensor&
  {
    const auto it = byName.find(key);
    if (it == byName.end())
      throw Error("weights do not fit the plan: missing key '" + key + "'");
    return *it->second;
  };
  const std::int64_t P = plan.numPools();
  StateDict normalized;
  for (const auto& kv : byName)
    normalized.emplace_back(kv.first, *kv.second);
  const auto tus = indexedKeys(normalized, "tu.", ".weight");
  if (static_cast<std::int64_t>(tus.size()) != P)
    throw Error("weights have " + std::to_string(tus.size()) +
                " up-sampling levels (tu.*) but the plan has " + std::to_string(P) +
                " down-samplings");

  const torch::Tensor& first = get("conv_blocks_context.0.blocks.0.conv.weight");
  plan.inputChannels = first.size(1);
  plan.baseFeatures = first.size(0);
  plan.numClasses = get("seg_outputs.0.weight").size(0);
  const std::string bottleneckKey =
      "conv_blocks_context." + std::to_string(P) + ".0.blocks.0.conv.weight";
  const std::int64_t cp = get(bottleneckKey).size(0);
  std::int64_t uncapped = plan.baseFeatures;
  for (std::int64_t s = 0; s < P && uncapped <= cp; ++s)
    uncapped *= 2;
  if (cp < uncapped)
    plan.maxFeatures = cp;
  else if (cp == uncapped)
    plan.maxFeatures = std::max(plan.maxFeatures, cp);
  else
    throw Error("weights do not fit the plan: bottleneck has " + std::to_string(cp) + " channels");

  auto checkKernel = [&](const std::string& key, const Vec3& expected, const char* what)
  {
    const torch::Tensor& w = get(key);
    if (w.dim() != 5 || w.size(2) != expected[0] || w.size(3) != expected[1] ||
        w.size(4) != expected[2])
      throw Error(std::string("weights do not fit the plan: ") + what + " '" + key +
                  "' has shape " + shapeToString(w.sizes()) + ", the plan says kernel " +
                  toString(expected));
  };
  for (std::int64_t s = 0; s < P; ++s)
    checkKernel("conv_blocks_context." + std::to_string(s) + ".blocks.0.conv.weight",
                plan.convKernels[static_cast<std::size_t>(s)], "encoder conv");
  checkKernel(bottleneckKey, plan.convKernels[static_cast<std::size_t>(P)], "bottleneck conv");
  for (std::int64_t u = 0; u < P; ++u)
  {
    checkKernel("tu." + std::to_string(u) + ".weight",
                plan.poolStrides[static_cast<std::size_t>(P - 1 - u)],
                "transposed conv (pool stride)");
    checkKernel("conv_blocks_localization." + std::to_string(u) + ".0.blocks.0.conv.weight",
                plan.decoderKernel(u), "decoder conv");
  }

  const auto it = byName.find("self_atten.linear_proj.weight");
  plan.attention.enabled = it != byName.end();
  if (plan.attention.enabled)
  {
    plan.attention.dModel = it->second->size(0);
    const auto layers =
        indexedKeys(normalized, "self_atten.transformer.layers.", ".linear1.weight");
    plan.attention.numLayers = static_cast<std::int64_t>(layers.size());
    if (layers.empty())
      throw Error("weights do not fit the plan: attention block without transformer layers");
    plan.attention.dimFeedforward = get("self_atten.transformer.layers.0.linear1.weight").size(0);
    if (plan.attention.dModel % plan.attention.numHeads != 0)
      throw Error("weights do not fit the plan: d_model " + std::to_string(plan.attention.dModel) +
                  " is not divisible by nhead " + std::to_string(plan.attention.numHeads));
    const torch::Tensor& pe = get("self_atten.pos_encode.pe");
    if (pe.dim() != 3 || pe.size(1) != plan.tokenCount())
      throw Error("weights do not fit the plan: the positional encoding has " +
                  (pe.dim() == 3 ? std::to_string(pe.size(1)) : std::string("?")) +
                  " tokens but patch " + toString(plan.patchSize) + " gives " +
                  std::to_string(plan.tokenCount()));
  }
  plan.validate();
  return plan;
}

torch::Tensor readRawTensor(const std::string& path, const std::vector<std::int64_t>& shape,
                            torch::ScalarType dtype)
{
  requireLittleEndianHost();
  std::int64_t numel = 1;
  for (const auto s : shape)
    numel *= s;
  const std::vector<std::uint8_t> bytes = readWholeFile(path, "tensor file");
  const auto expected = static_cast<std::size_t>(numel) * c10::elementSize(dtype);
  if (bytes.size() != expected)
    throw Error("tensor file " + path + " has " + std::to_string(bytes.size()) +
                " bytes, expected " + std::to_string(expected) + " for shape " +
                shapeToString(shape));
  torch::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(dtype));
  if (!bytes.empty())
    std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
  return t;
}

void writeRawTensor(const std::string& path, const torch::Tensor& t)
{
  requireLittleEndianHost();
  const torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out)
    throw Error("cannot write tensor file: " + path);
  out.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.nbytes()));
  if (!out)
    throw Error("cannot write tensor file: " + path);
}
} // namespace panseg::models
