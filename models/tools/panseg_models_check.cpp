// Tests of the models/ library: plain C++ (no Qt), so they also run in the standalone GPU build.
//   panseg_models_check [--fixture DIR] [--skip-exit-code N] [--device cpu|cuda[:N]] [group...]
// --device: where the parity group runs (fp32 and fp64; on CUDA also fp16 autocast, judged on argmax).
// Groups: plans network pickle parity checkpoint package ensemble safety (default: all). Groups that need the parity
// fixture print SKIP and exit with the skip code (default 0) when the folder is absent.
#include "core/Error.h"
#include "models/Json.h"
#include "models/ModelPackage.h"
#include "models/PackageWeights.h"
#include "models/PanSegNet.h"
#include "models/Parity.h"
#include "models/Pickle.h"
#include "models/Predictor.h"
#include "models/Plans.h"
#include "models/Sha256.h"
#include "models/Weights.h"
#include "models/Zip.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include <unistd.h>
#include "CheckMacros.h"

#ifndef PANSEG_SHARED_DIR
#define PANSEG_SHARED_DIR ""
#endif
#ifndef PANSEG_DEMO_MODEL_DIR
#define PANSEG_DEMO_MODEL_DIR ""
#endif

namespace
{
namespace fs = std::filesystem;
using namespace panseg::models;


std::string g_fixture;
std::string g_tmp;
std::string g_device = "cpu";

bool haveFixture()
{
  return fs::is_regular_file(g_fixture + "/weights.json");
}

std::string fixture(const std::string& rel)
{
  return g_fixture + "/" + rel;
}

std::vector<std::uint8_t> readBytes(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
}

std::string writeTemp(const std::string& name, const std::vector<std::uint8_t>& bytes)
{
  fs::create_directories(g_tmp);
  const std::string path = g_tmp + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  return path;
}

bool sameState(const StateDict& a, const StateDict& b, bool bitwise)
{
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i)
  {
    if (a[i].first != b[i].first || a[i].second.sizes() != b[i].second.sizes())
    {
      std::printf("  state dicts differ at %zu: %s %s vs %s %s\n", i, a[i].first.c_str(),
                  shapeToString(a[i].second.sizes()).c_str(), b[i].first.c_str(),
                  shapeToString(b[i].second.sizes()).c_str());
      return false;
    }
    if (bitwise && !torch::equal(a[i].second, b[i].second))
    {
      std::printf("  tensor %s differs\n", a[i].first.c_str());
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
void testPlans()
{
  const PlanConfig fx = PlanConfig::fixture();
  const PlanConfig paper = PlanConfig::paperLike();
  fx.validate();
  paper.validate();
  VERIFY_EQ(fx.numPools(), 4);
  VERIFY_EQ(fx.tokenCount(), 60);
  VERIFY(fx.bottleneckGrid() == (Vec3{4, 3, 5}));
  VERIFY_EQ(paper.tokenCount(), 196);
  const std::vector<std::int64_t> paperChannels = {32, 64, 128, 256, 320, 320};
  for (std::size_t s = 0; s < paperChannels.size(); ++s)
    VERIFY_EQ(paper.stageChannels(static_cast<std::int64_t>(s)), paperChannels[s]);
  // nnU-Net v1 decoder-kernel quirk: level u uses kern[P - u].
  VERIFY(paper.decoderKernel(3) ==
         (Vec3{3, 3, 3})); // works at stage 1 whose encoder kernel is 1x3x3
  VERIFY(paper.decoderKernel(4) == (Vec3{1, 3, 3}));
  VERIFY(fx.decoderKernel(2) == (Vec3{3, 3, 3}));
  VERIFY(fx.decoderKernel(3) == (Vec3{1, 3, 3}));
  VERIFY(paper.encoderStride(0) == (Vec3{1, 1, 1}));
  VERIFY(paper.encoderStride(5) == (Vec3{2, 2, 2}));

  // JSON round trip, with and without attention.
  VERIFY(PlanConfig::fromJsonText(paper.toJson()) == paper);
  PlanConfig plain = fx;
  plain.attention.enabled = false;
  VERIFY(PlanConfig::fromJsonText(plain.toJson()) == plain);
  VERIFY(PlanConfig::fromJsonText(plain.toJson()) != fx);

  // Errors name the problem.
  VERIFY_THROWS(PlanConfig::fromJsonText("{\"patch_size\": [16, 48, 80], ", "bad.json"),
                "bad.json:1:");
  VERIFY_THROWS(PlanConfig::fromJsonText("{\"patch_size\": [16, 48]}", "p.json"),
                "expected 3 values");
  std::string odd = fx.toJson();
  odd.replace(odd.find("[16, 48, 80]"), 12, "[16, 50, 80]");
  VERIFY_THROWS(PlanConfig::fromJsonText(odd, "odd.json"), "not divisible");
  std::string noKernel = fx.toJson();
  noKernel.replace(noKernel.find("conv_kernel_sizes"), 17, "conv_kernel_sizeX");
  VERIFY_THROWS(PlanConfig::fromJsonText(noKernel, "k.json"), "conv_kernel_sizes");
  VERIFY_THROWS(PlanConfig::fromJsonFile(g_tmp + "/does-not-exist.json"), "cannot open");
  VERIFY_THROWS(json::parse("[1, 2,, 3]", "arr"), "arr:1:7");
  VERIFY_EQ(json::parse("{\"a\": \"x\\u00e9\\n\", \"b\": -1.5e2}").at("b", "t").asNumber("b"),
            -150.0);

  if (haveFixture())
  {
    const PlanConfig fromFile = PlanConfig::fromJsonFile(fixture("config.json"));
    VERIFY(fromFile == fx);
    std::printf("  fixture config.json == PlanConfig::fixture(): %s\n",
                fromFile == fx ? "yes" : "NO");
  }
  else
    std::printf("  (fixture absent: config.json comparison skipped)\n");
}

// ---------------------------------------------------------------------------------------------
void testNetwork()
{
  torch::manual_seed(0);
  {
    PanSegNet paper(PlanConfig::paperLike());
    const std::int64_t n = parameterCount(*paper);
    std::printf("  paper-like plan: %lld parameters (expected 43,921,312)\n",
                static_cast<long long>(n));
    VERIFY_EQ(n, 43921312);
    const StateDict sd = stateDictOf(*paper);
    VERIFY_EQ(sd.size(), std::size_t(231));
    auto shapeOf = [&](const std::string& key) -> std::string
    {
      for (const auto& kv : sd)
        if (kv.first == key)
          return shapeToString(kv.second.sizes());
      return "absent";
    };
    VERIFY(shapeOf("conv_blocks_context.0.blocks.0.conv.weight") == "[32, 1, 1, 3, 3]");
    VERIFY(shapeOf("conv_blocks_context.5.1.blocks.0.conv.weight") == "[320, 320, 3, 3, 3]");
    VERIFY(shapeOf("tu.3.weight") == "[128, 64, 1, 2, 2]");
    VERIFY(shapeOf("conv_blocks_localization.3.0.blocks.0.conv.weight") == "[64, 128, 3, 3, 3]");
    VERIFY(shapeOf("conv_blocks_localization.4.1.blocks.0.conv.weight") == "[32, 32, 1, 3, 3]");
    VERIFY(shapeOf("seg_outputs.4.weight") == "[2, 32, 1, 1, 1]");
    VERIFY(shapeOf("self_atten.linear_proj.weight") == "[512, 320]");
    VERIFY(shapeOf("self_atten.pos_encode.pe") == "[1, 196, 512]");
    VERIFY(shapeOf("self_atten.transformer.layers.7.layer_norm2.bias") == "[512]");
    VERIFY(sd.front().first == "conv_blocks_localization.0.0.blocks.0.conv.weight");
    VERIFY(sd.back().first == "self_atten.transformer.layers.7.layer_norm2.bias");
  }
  {
    PlanConfig p = PlanConfig::paperLike();
    p.attention.enabled = false;
    PanSegNet plain(p);
    const std::int64_t n = parameterCount(*plain);
    std::printf("  paper-like plan without attention: %lld parameters (expected 30,968,928)\n",
                static_cast<long long>(n));
    VERIFY_EQ(n, 30968928);
    VERIFY_EQ(stateDictOf(*plain).size(), std::size_t(231 - 1 - 4 - 8 * 16));
  }
  PanSegNet fx(PlanConfig::fixture());
  const std::int64_t n = parameterCount(*fx);
  std::printf("  fixture plan: %lld parameters (expected 483,672)\n", static_cast<long long>(n));
  VERIFY_EQ(n, 483672);

  // Positional encoding formula (spec §1.4 step 3) at a few points.
  const torch::Tensor pe = sinusoidalPositionalEncoding(196, 512);
  VERIFY(std::abs(pe[0][5][10].item<double>() -
                  std::sin(5.0 * std::exp(-10.0 * std::log(10000.0) / 512))) < 1e-5);
  VERIFY(std::abs(pe[0][7][11].item<double>() -
                  std::cos(7.0 * std::exp(-10.0 * std::log(10000.0) / 512))) < 1e-5);

  // Shapes of the deep-supervision outputs and input checks (random weights).
  {
    c10::InferenceMode guard;
    fx->eval();
    const torch::Tensor x = torch::randn({1, 1, 16, 48, 80});
    const auto ds = fx->forwardDeepSupervision(x);
    VERIFY_EQ(ds.size(), std::size_t(4));
    VERIFY(shapeToString(ds[0].sizes()) == "[1, 2, 16, 48, 80]");
    VERIFY(shapeToString(ds[3].sizes()) == "[1, 2, 8, 6, 10]");
    VERIFY(torch::equal(fx->forward(x), ds[0]));
    VERIFY_THROWS(fx->forward(torch::randn({1, 1, 16, 48, 96})), "only accepts its plan's patch");
    VERIFY_THROWS(fx->forward(torch::randn({1, 2, 16, 48, 80})), "channels");
    VERIFY_THROWS(fx->forward(torch::randn({1, 16, 48, 80})), "5-D");
    PlanConfig p = PlanConfig::fixture();
    p.attention.enabled = false;
    PanSegNet plain(p);
    plain->eval();
    VERIFY(shapeToString(plain->forward(torch::randn({2, 1, 32, 48, 96})).sizes()) ==
           "[2, 2, 32, 48, 96]");
    VERIFY_THROWS(plain->forward(torch::randn({1, 1, 16, 40, 80})), "not divisible");
  }

  if (haveFixture())
  {
    // Key order, names and shapes equal weights.json exactly.
    const json::Value index = json::parseFile(fixture("weights.json"));
    const json::Value& tensors = index.at("tensors", "weights.json");
    const StateDict sd = stateDictOf(*fx);
    VERIFY_EQ(sd.size(), tensors.array.size());
    std::size_t matching = 0;
    for (std::size_t i = 0; i < std::min(sd.size(), tensors.array.size()); ++i)
    {
      const std::string& name = tensors.array[i].at("name", "t").asString("name");
      const auto shape = tensors.array[i].at("shape", "t").asIntVector("shape");
      if (sd[i].first == name && sd[i].second.sizes().vec() == shape)
        ++matching;
      else if (matching == i)
        std::printf("  first difference at %zu: ours %s %s, weights.json %s %s\n", i,
                    sd[i].first.c_str(), shapeToString(sd[i].second.sizes()).c_str(), name.c_str(),
                    shapeToString(shape).c_str());
    }
    VERIFY_EQ(matching, tensors.array.size());
    VERIFY_EQ(index.at("num_parameters", "weights.json").asInt("n"), n);
    std::printf(
        "  state_dict vs weights.json: %zu / %zu entries identical in order, name and shape\n",
        matching, tensors.array.size());
  }
  else
    std::printf("  (fixture absent: weights.json comparison skipped)\n");
}

// ---------------------------------------------------------------------------------------------
void testPickle()
{
  using Kind = pickle::Value::Kind;
  // Protocol 2, hand-assembled: {'a': [1, -2, 70000, -300000000000], 'b': (1.5, None, True), 'c':
  // 'x'}
  const std::vector<std::uint8_t> p2 = {
      0x80, 2,   '}',  'q',  0,    '(', 'X',  1,    0,    0,    0,    'a', ']',  'q',  1,    '(',
      'K',  1,   0x8a, 1,    0xFE, 'J', 0x70, 0x11, 0x01, 0x00, 0x8a, 5,   0x00, 0x48, 0x9B, 0x26,
      0xBA, 'e', 'X',  1,    0,    0,   0,    'b',  'G',  0x3F, 0xF8, 0,   0,    0,    0,    0,
      0,    'N', 0x88, 0x87, 'X',  1,   0,    0,    0,    'c',  'h',  1,   'u',  '.'};
  // note: 'c' maps to the memoised list (BINGET 1), checking shared references
  const pickle::ValuePtr v = pickle::unpickle(p2, "p2");
  VERIFY(v->is(Kind::Dict));
  const auto a = v->at("a", "p2").asIntList("a");
  VERIFY_EQ(a.size(), std::size_t(4));
  if (a.size() == 4)
  {
    VERIFY_EQ(a[0], 1);
    VERIFY_EQ(a[1], -2);
    VERIFY_EQ(a[2], 70000);
    VERIFY_EQ(a[3], -300000000000LL);
  }
  const pickle::Value& b = v->at("b", "p2");
  VERIFY(b.is(Kind::Tuple) && b.items.size() == 3);
  if (b.items.size() == 3)
  {
    VERIFY_EQ(b.items[0]->asDouble("b0"), 1.5);
    VERIFY(b.items[1]->isNone());
    VERIFY(b.items[2]->asBool("b2"));
  }
  VERIFY(v->get("c") == v->get("a"));

  // Protocol 4 framing, short strings, MEMOIZE, STACK_GLOBAL + REDUCE into an OrderedDict.
  const std::vector<std::uint8_t> p4 = {
      0x80, 4,   0x95, 38,  0,    0,    0,   0,    0,    0,   0,   0x8c, 11,  'c', 'o', 'l', 'l',
      'e',  'c', 't',  'i', 'o',  'n',  's', 0x94, 0x8c, 11,  'O', 'r',  'd', 'e', 'r', 'e', 'd',
      'D',  'i', 'c',  't', 0x94, 0x93, ')', 'R',  0x94, 'K', 7,   'K',  9,   's', '.'};
  const pickle::ValuePtr v4 = pickle::unpickle(p4, "p4");
  VERIFY(v4->is(Kind::Dict) && v4->get(std::int64_t(7)) &&
         v4->get(std::int64_t(7))->asInt("x") == 9);

  // Malformed input is reported, never crashes.
  VERIFY_THROWS(pickle::unpickle(std::vector<std::uint8_t>(p2.begin(), p2.begin() + 30), "cut"),
                "truncated");
  VERIFY_THROWS(pickle::unpickle(std::vector<std::uint8_t>{0x80, 2, 'K', 1, 0xFF}, "op"),
                "opcode 0xff");
  VERIFY_THROWS(pickle::unpickle(std::vector<std::uint8_t>{0x80, 2, 'h', 3, '.'}, "memo"),
                "memo key 3");
  VERIFY_THROWS(pickle::unpickle(std::vector<std::uint8_t>{0x80, 2, 'e', '.'}, "mark"),
                "MARK expected");
  VERIFY_THROWS(pickle::unpickle(std::vector<std::uint8_t>{0x80, 2, 'K', 1, 'K', 2, '.'}, "stop"),
                "STOP");
  VERIFY_THROWS(
      pickle::unpickle(std::vector<std::uint8_t>{0x80, 2, 'X', 0xFF, 0xFF, 0xFF, 0x7F, '.'}, "len"),
      "truncated");

  // Zip reader: a deflated entry (torch.save stores, other tools may deflate).
  {
    const std::vector<std::uint8_t> deflated = {
        80,  75,  3,   4,   20,  0,   0,   0,   8,   0,   197, 160, 118, 93,  58, 162, 97,  143,
        13,  0,   0,   0,   24,  1,   0,   0,   16,  0,   0,   0,   97,  114, 99, 104, 105, 118,
        101, 47,  100, 97,  116, 97,  46,  116, 120, 116, 43,  72,  204, 43,  78, 77,  87,  40,
        24,  165, 80,  41,  0,   80,  75,  1,   2,   20,  3,   20,  0,   0,   0,  8,   0,   197,
        160, 118, 93,  58,  162, 97,  143, 13,  0,   0,   0,   24,  1,   0,   0,  16,  0,   0,
        0,   0,   0,   0,   0,   0,   0,   0,   0,   128, 1,   0,   0,   0,   0,  97,  114, 99,
        104, 105, 118, 101, 47,  100, 97,  116, 97,  46,  116, 120, 116, 80,  75, 5,   6,   0,
        0,   0,   0,   1,   0,   1,   0,   62,  0,   0,   0,   59,  0,   0,   0,  0,   0};
    const ZipArchive zip(writeTemp("deflated.zip", deflated));
    VERIFY_EQ(zip.entries().size(), std::size_t(1));
    try
    {
      const auto text = zip.read("archive/data.txt");
      std::string expected;
      for (int i = 0; i < 40; ++i)
        expected += "panseg ";
      VERIFY(std::string(text.begin(), text.end()) == expected);
      std::printf("  deflated zip entry inflated correctly (zlib build)\n");
    }
    catch (const panseg::Error& e)
    {
      VERIFY(std::string(e.what()).find("no zlib") != std::string::npos);
      std::printf("  deflated zip entry refused as expected (build without zlib): %s\n", e.what());
    }
    VERIFY_THROWS(zip.read("archive/missing.txt"), "no entry \"archive/missing.txt\"");
  }

  if (!haveFixture())
  {
    std::printf("  (fixture absent: .model.pkl checks skipped)\n");
    return;
  }
  const NnUNetPlans plans = readNnUNetPlans(fixture("model_final_checkpoint.model.pkl"));
  VERIFY(plans.trainerName == "nnTransUNetTrainerV2");
  VERIFY(plans.network.patchSize == (Vec3{16, 48, 80}));
  VERIFY(plans.network.poolStrides == PlanConfig::fixture().poolStrides);
  VERIFY(plans.network.convKernels == PlanConfig::fixture().convKernels);
  VERIFY_EQ(plans.network.baseFeatures, 8);
  VERIFY_EQ(plans.network.numClasses, 2);
  VERIFY_EQ(plans.numForegroundClasses, 1);
  VERIFY_EQ(plans.numModalities, 1);
  VERIFY(std::abs(plans.targetSpacingMm[0] - 4.0) < 1e-12 &&
         std::abs(plans.targetSpacingMm[1] - 0.9) < 1e-12 &&
         std::abs(plans.targetSpacingMm[2] - 0.9) < 1e-12);
  VERIFY(plans.normalizationSchemes == std::vector<std::string>{"nonCT"});
  VERIFY(plans.useMaskForNorm == std::vector<bool>{false});
  VERIFY(plans.modalities == std::vector<std::string>{"MRI"});
  VERIFY(plans.intensityProperties.empty());
  VERIFY((plans.transposeForward == std::array<std::int64_t, 3>{0, 1, 2}));
  VERIFY_EQ(plans.batchSize, 2);
  std::printf("  .model.pkl plans: %s; spacing %.3g x %.3g x %.3g mm; %s\n",
              plans.network.summary().c_str(), plans.targetSpacingMm[0], plans.targetSpacingMm[1],
              plans.targetSpacingMm[2], plans.normalizationSchemes[0].c_str());
  const auto bytes = readBytes(fixture("model_final_checkpoint.model.pkl"));
  VERIFY_THROWS(readNnUNetPlans(writeTemp(
                    "cut.pkl", std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + 700))),
                "truncated");
  VERIFY_THROWS(readNnUNetPlans(fixture("weights.json")), "not a binary Python pickle");
}

// ---------------------------------------------------------------------------------------------
void testParity()
{
  const bool cuda = g_device.rfind("cuda", 0) == 0;
  std::vector<Precision> precisions{Precision::Float32, Precision::Float64};
  if (cuda)
    precisions.push_back(Precision::Float16Autocast);
  for (const Precision precision : precisions)
  {
    ParityOptions o;
    o.fixtureDir = g_fixture;
    o.precision = precision;
    o.device = g_device;
    const ParityReport r = runFixtureParity(o);
    std::printf("  [%s, %s, %d threads] %lld parameters\n", toString(precision).c_str(), g_device.c_str(),
                at::get_num_threads(), static_cast<long long>(r.parameterCount));
    const std::string tag = "parity_" + std::string(precision == Precision::Float32   ? "fp32"
                                                    : precision == Precision::Float64 ? "fp64"
                                                                                      : "fp16_autocast");
    // "FIGURE key value": machine-readable figures for models/tools/gpu_check.sh.
    std::printf("FIGURE %s_logits_max_abs %.9g\nFIGURE %s_logits_max_abs_vs_float64 %.9g\n"
                "FIGURE %s_argmax_mismatches %lld\nFIGURE %s_voxels %lld\nFIGURE %s_forward_ms %.6g\n",
                tag.c_str(), r.outputMaxAbs, tag.c_str(), r.outputMaxAbsVsFloat64, tag.c_str(),
                static_cast<long long>(r.argmaxMismatches), tag.c_str(), static_cast<long long>(r.voxels),
                tag.c_str(), r.forwardSeconds * 1e3);
    if (precision == Precision::Float16Autocast)
    {
      std::printf("    fp16 autocast: logits max|d| %.3e, argmax differs in %lld / %lld voxels\n", r.outputMaxAbs,
                  static_cast<long long>(r.argmaxMismatches), static_cast<long long>(r.voxels));
      VERIFY(r.pass); // argmax agreement >= 99.9 % (Parity.h)
      continue;
    }
    for (const auto& c : r.tensors)
      std::printf("    %-50s max|d| %.3e  mean|d| %.3e  (bound %s) %s\n", c.name.c_str(), c.maxAbs,
                  c.meanAbs, c.tolerance > 0 ? std::to_string(c.tolerance).c_str() : "info",
                  c.pass ? "ok" : "FAIL");
    std::printf("    logits vs output.bin max|d| %.3e, vs float64 reference %.3e; argmax differs "
                "in %lld / %lld "
                "voxels (%lld vs float64); forward %.0f ms\n",
                r.outputMaxAbs, r.outputMaxAbsVsFloat64, static_cast<long long>(r.argmaxMismatches),
                static_cast<long long>(r.voxels),
                static_cast<long long>(r.argmaxMismatchesVsFloat64), r.forwardSeconds * 1e3);
    VERIFY(r.pass);
    VERIFY_EQ(r.argmaxMismatches, 0);
    VERIFY_EQ(r.tensors.size(), std::size_t(20));
    if (precision == Precision::Float32)
    {
      VERIFY(r.outputMaxAbs <= 1e-4);
      VERIFY(r.outputMaxAbsVsFloat64 <= 1e-4);
    }
    else
      VERIFY(r.outputMaxAbsVsFloat64 <= 1e-9);
  }
}

// ---------------------------------------------------------------------------------------------
/// Rewrites one stored entry of a zip file in place (same length) and fixes its CRC.
std::vector<std::uint8_t> patchZipEntry(std::vector<std::uint8_t> zipBytes, const ZipArchive& zip,
                                        const std::string& entryName,
                                        const std::function<void(std::vector<std::uint8_t>&)>& edit)
{
  const ZipArchive::Entry* e = zip.find(entryName);
  if (!e)
    throw panseg::Error("test: no entry " + entryName);
  std::vector<std::uint8_t> content = zip.read(*e);
  edit(content);
  const std::size_t lh = static_cast<std::size_t>(e->localHeaderOffset);
  const std::size_t data = lh + 30 + (zipBytes[lh + 26] | (zipBytes[lh + 27] << 8)) +
                           (zipBytes[lh + 28] | (zipBytes[lh + 29] << 8));
  std::memcpy(zipBytes.data() + data, content.data(), content.size());
  const std::uint32_t crc = crc32(content.data(), content.size());
  // Central directory record of this entry: signature PK\1\2 followed (at +46) by its name.
  for (std::size_t p = 0; p + 46 + entryName.size() <= zipBytes.size(); ++p)
    if (zipBytes[p] == 'P' && zipBytes[p + 1] == 'K' && zipBytes[p + 2] == 1 &&
        zipBytes[p + 3] == 2 &&
        std::memcmp(zipBytes.data() + p + 46, entryName.data(), entryName.size()) == 0 &&
        (zipBytes[p + 28] | (zipBytes[p + 29] << 8)) == static_cast<int>(entryName.size()))
      for (int i = 0; i < 4; ++i)
        zipBytes[p + 16 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(crc >> (8 * i));
  return zipBytes;
}

void testCheckpoint()
{
  const std::string ckPath = fixture("model_final_checkpoint.model");
  const NnUNetCheckpoint ck = readNnUNetCheckpoint(ckPath);
  const StateDict reference = readFixtureWeights(fixture("weights.bin"), fixture("weights.json"));
  std::printf("  checkpoint: epoch %lld, %zu tensors\n", static_cast<long long>(ck.epoch),
              ck.stateDict.size());
  VERIFY_EQ(ck.epoch, 3);
  VERIFY_EQ(ck.stateDict.size(), std::size_t(117));
  VERIFY(sameState(ck.stateDict, reference, /*bitwise=*/true));

  // The plans in .model.pkl plus what the weights imply give exactly the fixture network.
  const NnUNetPlans plans = readNnUNetPlans(fixture("model_final_checkpoint.model.pkl"));
  const PlanConfig matched = planMatchingStateDict(plans.network, ck.stateDict);
  VERIFY(matched == PlanConfig::fixture());
  std::printf("  plan from .model.pkl + weights: %s\n", matched.summary().c_str());
  PanSegNet net(matched);
  loadStateDict(*net, ck.stateDict);
  VERIFY(sameState(stateDictOf(*net), reference, /*bitwise=*/true));

  // DataParallel prefix is accepted.
  StateDict prefixed = ck.stateDict;
  for (auto& kv : prefixed)
    kv.first = "module." + kv.first;
  loadStateDict(*net, prefixed);

  // Wrong key / shape / missing / unexpected: named in the message, module left untouched.
  StateDict wrongKey = ck.stateDict;
  wrongKey[5].first = "conv_blocks_localization.0.0.blocks.0.conv.wEight";
  VERIFY_THROWS(loadStateDict(*net, wrongKey),
                "missing key 'conv_blocks_localization.0.1.blocks.0.conv.bias'");
  StateDict badShape = ck.stateDict;
  badShape[0].second = torch::zeros({32, 64, 3, 3, 1});
  VERIFY_THROWS(loadStateDict(*net, badShape),
                "has shape [32, 64, 3, 3, 1] in the weights but [32, 64, 3, 3, 3]");
  StateDict extra = ck.stateDict;
  extra.emplace_back("self_atten.extra.weight", torch::zeros({1}));
  VERIFY_THROWS(loadStateDict(*net, extra), "unexpected key 'self_atten.extra.weight'");
  StateDict missing(ck.stateDict.begin(), ck.stateDict.end() - 1);
  VERIFY_THROWS(loadStateDict(*net, missing),
                "missing key 'self_atten.transformer.layers.1.layer_norm2.bias'");
  VERIFY(sameState(stateDictOf(*net), reference, /*bitwise=*/true));
  PlanConfig plain = PlanConfig::fixture();
  plain.attention.enabled = false;
  PanSegNet plainNet(plain);
  VERIFY_THROWS(loadStateDict(*plainNet, ck.stateDict),
                "unexpected key 'self_atten.linear_proj.weight'");
  PlanConfig otherPatch = PlanConfig::fixture();
  otherPatch.patchSize = {16, 48, 96};
  VERIFY_THROWS(planMatchingStateDict(otherPatch, ck.stateDict),
                "positional encoding has 60 tokens");

  // Damaged files.
  const std::vector<std::uint8_t> bytes = readBytes(ckPath);
  VERIFY_THROWS(
      readNnUNetCheckpoint(writeTemp(
          "cut-half.model",
          std::vector<std::uint8_t>(
              bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() / 2)))),
      "truncated");
  VERIFY_THROWS(readNnUNetCheckpoint(writeTemp(
                    "cut-tail.model", std::vector<std::uint8_t>(bytes.begin(), bytes.end() - 10))),
                "truncated");
  VERIFY_THROWS(readNnUNetCheckpoint(writeTemp(
                    "cut-head.model", std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + 2))),
                "truncated");
  std::vector<std::uint8_t> garbage(4096);
  std::uint32_t state = 12345;
  for (auto& g : garbage)
  {
    state = state * 1664525u + 1013904223u;
    g = static_cast<std::uint8_t>(state >> 24);
  }
  garbage[0] = 'G';
  VERIFY_THROWS(readNnUNetCheckpoint(writeTemp("garbage.model", garbage)),
                "not a PyTorch checkpoint");
  garbage[0] = 'P';
  garbage[1] = 'K';
  garbage[2] = 3;
  garbage[3] = 4;
  VERIFY_THROWS(readNnUNetCheckpoint(writeTemp("garbage-pk.model", garbage)),
                "not a zip archive, or truncated");
  VERIFY_THROWS(readNnUNetCheckpoint(writeTemp("empty.model", {})), "empty or truncated");
  VERIFY_THROWS(readNnUNetCheckpoint(g_tmp + "/no-such-file.model"), "cannot open");
  VERIFY_THROWS(readNnUNetCheckpoint(fixture("model_final_checkpoint.model.pkl")),
                "plain Python pickle");

  const ZipArchive zip(ckPath);
  // A flipped byte inside a weight storage fails the CRC check.
  {
    std::vector<std::uint8_t> corrupt = bytes;
    const ZipArchive::Entry* e = zip.find("model_final_checkpoint/data/0");
    VERIFY(e != nullptr);
    if (e)
    {
      const std::size_t lh = static_cast<std::size_t>(e->localHeaderOffset);
      const std::size_t data = lh + 30 + (corrupt[lh + 26] | (corrupt[lh + 27] << 8)) +
                               (corrupt[lh + 28] | (corrupt[lh + 29] << 8));
      corrupt[data + 1000] ^= 0x40;
      VERIFY_THROWS(readNnUNetCheckpoint(writeTemp("crc.model", corrupt)), "CRC");
    }
  }
  // A renamed key inside data.pkl (valid archive): the load names the missing key.
  {
    const auto renamed = patchZipEntry(bytes, zip, "model_final_checkpoint/data.pkl",
                                       [](std::vector<std::uint8_t>& pkl)
                                       {
                                         const std::string from =
                                             "conv_blocks_localization.0.0.blocks.0.conv.weight";
                                         const std::string to =
                                             "conv_blocks_localization.0.0.blocks.0.conv.wEight";
                                         const std::string text(pkl.begin(), pkl.end());
                                         const auto at = text.find(from);
                                         if (at != std::string::npos)
                                           std::memcpy(pkl.data() + at, to.data(), to.size());
                                       });
    const NnUNetCheckpoint bad = readNnUNetCheckpoint(writeTemp("renamed.model", renamed));
    VERIFY(bad.stateDict.front().first == "conv_blocks_localization.0.0.blocks.0.conv.wEight");
    VERIFY_THROWS(loadStateDict(*net, bad.stateDict),
                  "missing key 'conv_blocks_localization.0.0.blocks.0.conv.weight'");
  }
  // A damaged data.pkl inside a valid archive (CRC fixed up, so the pickle reader sees it).
  {
    const auto noStop = patchZipEntry(bytes, zip, "model_final_checkpoint/data.pkl",
                                      [](std::vector<std::uint8_t>& pkl) { pkl.back() = 'N'; });
    VERIFY_THROWS(readNnUNetCheckpoint(writeTemp("nostop.model", noStop)), "no STOP opcode");
    const auto badOp = patchZipEntry(bytes, zip, "model_final_checkpoint/data.pkl",
                                     [](std::vector<std::uint8_t>& pkl) { pkl[2] = 0xFF; });
    VERIFY_THROWS(readNnUNetCheckpoint(writeTemp("badop.model", badOp)),
                  "unsupported pickle opcode 0xff");
    const auto noStateDict = patchZipEntry(bytes, zip, "model_final_checkpoint/data.pkl",
                                           [](std::vector<std::uint8_t>& pkl)
                                           {
                                             const std::string text(pkl.begin(), pkl.end());
                                             const auto at = text.find("state_dict");
                                             if (at != std::string::npos)
                                               pkl[at] = 'X';
                                           });
    VERIFY_THROWS(readNnUNetCheckpoint(writeTemp("nosd.model", noStateDict)),
                  "no 'state_dict' (v1) or 'network_weights' (v2) entry");
  }
}

/// Model packages: import of an nnU-Net v1 result folder built from the fixture's checkpoint,
/// loading, forward parity through the package, and the errors of broken packages.
void testPackage()
{
  const fs::path result = fs::path(g_tmp) / "Task999_Fixture" / "nnTransUNetTrainerV2__nnUNetPlansv2.1";
  fs::create_directories(result / "fold_0");
  fs::copy_file(fixture("model_final_checkpoint.model"), result / "fold_0/model_final_checkpoint.model",
                fs::copy_options::overwrite_existing);
  fs::copy_file(fixture("model_final_checkpoint.model.pkl"),
                result / "fold_0/model_final_checkpoint.model.pkl", fs::copy_options::overwrite_existing);
  const std::string out = g_tmp + "/package";
  ImportOptions io;
  io.name = "fixture import";
  const ModelPackage imported = importNnUNetResult(result.string(), out, io);
  std::printf("    imported: %s, %s, modality %s, %zu tensors, %lld bytes\n", imported.id().c_str(),
              imported.network.summary().c_str(), imported.info.modality.c_str(),
              imported.weights.size(), static_cast<long long>(imported.weightsBytes));
  VERIFY(looksLikeModelPackage(out));
  VERIFY(imported.weightsVerified); // the import records weights.bin's SHA-256 in model.json
  VERIFY(!fs::exists(out + ".importing-" + std::to_string(::getpid())));
  const ModelPackage pkg = loadModelPackage(out);
  VERIFY(pkg.network == PlanConfig::fixture());
  VERIFY_EQ(pkg.weights.size(), std::size_t(117));
  VERIFY(pkg.info.modelType == "pansegnet");
  VERIFY(!pkg.info.clinicalUse);
  VERIFY(pkg.classes.size() == 2 && pkg.classes[1].name == "pancreas");
  VERIFY(pkg.preprocessing.transposeForward == (std::array<std::int64_t, 3>{ 0, 1, 2 }));
  // Re-serialising gives the same text (the metadata round-trips).
  VERIFY(plansJsonText(pkg) == plansJsonText(imported));
  VERIFY(modelJsonText(pkg) == modelJsonText(imported));

  // Weights bit-identical to the fixture's weights.bin, and the forward pass through the
  // package reproduces output.bin.
  const StateDict ref = readFixtureWeights(fixture("weights.bin"), fixture("weights.json"));
  VERIFY(sameState(readPackageWeights(pkg), ref, true));
  PanSegNet net = loadPackageNetwork(pkg);
  const torch::Tensor input = readRawTensor(fixture("input.bin"), { 1, 1, 16, 48, 80 });
  const torch::Tensor expected = readRawTensor(fixture("output.bin"), { 1, 2, 16, 48, 80 });
  torch::Tensor logits;
  {
    c10::InferenceMode guard;
    logits = net->forward(input);
  }
  const double maxAbs = (logits - expected).abs().max().item<double>();
  const bool bitwise = torch::equal(logits, expected);
  std::printf("    forward through the imported package vs output.bin: max|d| %.3e (%s)\n", maxAbs,
              bitwise ? "bit-identical" : "not bit-identical");
  VERIFY(maxAbs <= 1e-6);

  // Errors users can cause, each naming the file / key.
  VERIFY_THROWS(loadModelPackage(g_tmp + "/no-such-package"), "model package not found");
  VERIFY_THROWS(loadModelPackage(fixture("weights.json")), "must be a folder");
  VERIFY_THROWS(importNnUNetResult(g_tmp + "/nothing-here", g_tmp + "/x"), "result folder not found");
  VERIFY_THROWS(importNnUNetResult(g_tmp, g_tmp + "/x"), "fold_0/model_final_checkpoint.model");
  VERIFY_THROWS(importNnUNetResult(result.string(), out, io), "already exists");
  {
    ImportOptions force = io;
    force.force = true;
    force.modality = "CT";
    // The modality is a label; the plans' normalisation (nonCT here) is kept.
    const ModelPackage relabelled = importNnUNetResult(result.string(), out, force);
    VERIFY(relabelled.info.modality == "CT" && relabelled.preprocessing.normalization == "nonCT");
    force.modality = "MR";
    force.name = "fixture import (replaced)";
    VERIFY(importNnUNetResult(result.string(), out, force).info.name == "fixture import (replaced)");
    force.modality = "PET";
    VERIFY_THROWS(importNnUNetResult(result.string(), out, force), "--modality must be CT or MR");
  }
  auto broken = [&](const std::string& name, const std::function<void(const fs::path&)>& damage)
  {
    const fs::path dir = fs::path(g_tmp) / name;
    fs::remove_all(dir);
    fs::copy(out, dir, fs::copy_options::recursive);
    damage(dir);
    return dir.string();
  };
  auto rewrite = [](const fs::path& file, const std::string& from, const std::string& to)
  {
    std::ifstream in(file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto at = text.find(from);
    if (at != std::string::npos)
      text.replace(at, from.size(), to);
    std::ofstream(file, std::ios::trunc) << text;
  };
  VERIFY_THROWS(loadModelPackage(broken("p1", [](const fs::path& d) { fs::remove(d / "model.json"); })),
                "model.json missing");
  VERIFY_THROWS(loadModelPackage(broken("p2", [&](const fs::path& d) { rewrite(d / "model.json", "\"name\"", "\"name"); })),
                "model.json");
  VERIFY_THROWS(loadModelPackage(broken("p3", [&](const fs::path& d) { rewrite(d / "plans.json", "\"preprocessing\"", "\"preproc\""); })),
                "missing key \"preprocessing\"");
  VERIFY_THROWS(loadModelPackage(broken("p4", [&](const fs::path& d) { rewrite(d / "plans.json", "[0, 1, 2]", "[2, 1, 0]"); })),
                "transpose");
  VERIFY_THROWS(loadModelPackage(broken("p5", [&](const fs::path& d) { fs::resize_file(d / "weights.bin", 1000); })),
                "truncated or mismatched");
  VERIFY_THROWS(loadModelPackage(broken("p6", [&](const fs::path& d) { rewrite(d / "model.json", "\"pansegnet\"", "\"unet\""); })),
                "model_type");
  // A shape that is consistent in the index but wrong for the network: the load names the key.
  const std::string p7 = broken("p7", [&](const fs::path& d)
                                { rewrite(d / "weights.json", "\"shape\": [32, 64, 3, 3, 3]", "\"shape\": [64, 32, 3, 3, 3]"); });
  const ModelPackage wrongShape = loadModelPackage(p7);
  VERIFY_THROWS(loadPackageNetwork(wrongShape), "conv_blocks_localization.0.0.blocks.0.conv.weight");
  const std::string p8 = broken("p8", [&](const fs::path& d)
                                { rewrite(d / "weights.json", "\"seg_outputs.0.weight\"", "\"seg_outputs.0.wEight\""); });
  VERIFY_THROWS(loadPackageNetwork(loadModelPackage(p8)), "seg_outputs.0.weight");
}


std::string readText(const fs::path& file)
{
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void writeText(const fs::path& file, const std::string& text)
{
  std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
}

/// Replaces the first `from` in `file` (which must contain it).
bool replaceIn(const fs::path& file, const std::string& from, const std::string& to)
{
  std::string text = readText(file);
  const auto at = text.find(from);
  if (at == std::string::npos)
    return false;
  text.replace(at, from.size(), to);
  writeText(file, text);
  return true;
}

/// Checksums, plan bounds and package validation (issue 21 part 5): no fixture needed; the
/// shipped demo package (resources/models/demo) is copied and damaged.
/// nnU-Net v1 fold ensembles (issue 18): a result folder with fold_0 and fold_1 (the parity
/// fixture's checkpoint twice) is imported into one 2-fold package; fold 1's segmentation heads
/// are then scaled so that the folds differ. The package's prediction (Predictor, the worker's
/// path, --fast) must equal the average of the two single-fold predictions' softmax, as
/// nnUNet_predict computes it; a missing fold, folds with different plans and a checkpoint whose
/// keys do not fit are one-line errors naming the file and the key.
void testEnsemble()
{
  const fs::path res = fs::path(g_tmp) / "Task998_Two" / "nnTransUNetTrainerV2__nnUNetPlansv2.1";
  fs::remove_all(res.parent_path());
  for (const char* f : { "fold_0", "fold_1" })
  {
    fs::create_directories(res / f);
    fs::copy_file(fixture("model_final_checkpoint.model"), res / f / "model_final_checkpoint.model");
    fs::copy_file(fixture("model_final_checkpoint.model.pkl"), res / f / "model_final_checkpoint.model.pkl");
  }
  const std::string twoDir = g_tmp + "/v1_two";
  fs::remove_all(twoDir);
  ModelPackage two = importNnUNetResult(res.string(), twoDir); // every fold by default
  VERIFY((two.preprocessing.folds == std::vector<int>{ 0, 1 }));
  VERIFY(readText(fs::path(twoDir) / "model.json").find("\"folds\": 2") != std::string::npos); // the catalog's count
  StateDict w = readPackageWeights(two);
  VERIFY_EQ(w.size(), std::size_t{ 2 * 117 });
  int scaled = 0;
  for (auto& kv : w)
    if (kv.first.rfind("fold_1/seg_outputs.", 0) == 0)
    {
      kv.second = kv.second * 1.5f;
      ++scaled;
    }
  VERIFY(scaled > 0);
  writePackageWeights(two.dir, w);
  writePackageMetadata(two.dir, two);
  two = loadModelPackage(two.dir);
  VERIFY_EQ(loadPackageNetworks(two).size(), std::size_t{ 2 });
  VERIFY_THROWS(loadPackageNetwork(two), "ensemble of 2 folds");

  // The same weights as two single-fold packages.
  std::vector<ModelPackage> single;
  for (int k = 0; k < 2; ++k)
  {
    const std::string dir = g_tmp + "/v1_fold" + std::to_string(k);
    fs::remove_all(dir);
    fs::create_directories(dir);
    StateDict wk;
    const std::string prefix = "fold_" + std::to_string(k) + "/";
    for (const auto& kv : w)
      if (kv.first.rfind(prefix, 0) == 0)
        wk.emplace_back(kv.first.substr(prefix.size()), kv.second);
    ModelPackage one = two;
    one.preprocessing.folds.clear();
    writePackageWeights(dir, wk);
    writePackageMetadata(dir, one);
    single.push_back(loadModelPackage(dir));
  }

  // An image a little larger than the patch at the plan's spacing (non-zero everywhere, so the
  // crop keeps it all).
  const Vec3& patch = two.network.patchSize; // (z, y, x)
  const auto& sp = two.preprocessing.targetSpacingMm;
  panseg::Geometry g;
  g.size = { patch[2] + 9, patch[1] + 5, patch[0] + 3 };
  g.spacingMm = { sp[2], sp[1], sp[0] };
  panseg::Image image(g);
  for (std::size_t i = 0; i < image.voxels.size(); ++i)
    image.voxels[i] = 100.0f + 60.0f * static_cast<float>(std::sin(0.37 * static_cast<double>(i % 977)) +
                                                           std::cos(0.011 * static_cast<double>(i)));
  PredictOptions o;
  o.device = "cpu";
  o.fast = true;
  o.estimate = false;
  o.keepProbabilities = true;
  std::vector<std::string> messages;
  o.message = [&](const std::string& m) { messages.push_back(m); };
  Predictor ensemble(two, o);
  const PredictResult r = ensemble.predict(image, o);
  PredictOptions o1 = o;
  o1.message = {};
  const PredictResult r0 = Predictor(single[0], o1).predict(image, o1);
  const PredictResult r1 = Predictor(single[1], o1).predict(image, o1);
  VERIFY_EQ(r.forwardPasses, r0.forwardPasses * 2); // the cost scales with the folds
  VERIFY_EQ(ensemble.estimateForwardPasses(g, o), r.forwardPasses);
  VERIFY(std::any_of(messages.begin(), messages.end(),
                     [](const std::string& m) { return m.find("ensemble of 2 folds") != std::string::npos; }));
  VERIFY_EQ(r.probabilities.size(), r0.probabilities.size());
  VERIFY_EQ(r1.probabilities.size(), r0.probabilities.size());
  double maxAbs = 0, foldsDiffer = 0, fromFold0 = 0;
  for (std::size_t i = 0; i < r.probabilities.size() && i < r0.probabilities.size(); ++i)
  {
    const float mean = (r0.probabilities[i] + r1.probabilities[i]) / 2.0f;
    maxAbs = std::max(maxAbs, static_cast<double>(std::abs(r.probabilities[i] - mean)));
    foldsDiffer = std::max(foldsDiffer, static_cast<double>(std::abs(r0.probabilities[i] - r1.probabilities[i])));
    fromFold0 = std::max(fromFold0, static_cast<double>(std::abs(r.probabilities[i] - r0.probabilities[i])));
  }
  std::printf("    v1 2-fold ensemble --fast: %lld forward passes (%lld per fold); softmax vs the mean of the "
              "single folds: max|d| %.3g; folds differ by up to %.3g, the ensemble from fold 0 by %.3g\n",
              static_cast<long long>(r.forwardPasses), static_cast<long long>(r0.forwardPasses), maxAbs, foldsDiffer,
              fromFold0);
  VERIFY(foldsDiffer > 1e-3);
  VERIFY_EQ(maxAbs, 0.0);
  VERIFY(fromFold0 > 1e-4);
  VERIFY(r.mask.geometry.sameGrid(image.geometry));

  // --folds picks a subset; a single fold is a plain package.
  {
    ImportOptions one;
    one.folds = { 1 };
    const ModelPackage p1 = importNnUNetResult(res.string(), g_tmp + "/v1_only1", one);
    VERIFY(p1.preprocessing.foldCount() == 1);
    VERIFY_EQ(p1.weights.size(), std::size_t{ 117 });
  }
  // Malformed inputs, each one line naming the file and the key.
  {
    ImportOptions missing;
    missing.folds = { 0, 3 };
    VERIFY_THROWS(importNnUNetResult(res.string(), g_tmp + "/v1_bad", missing),
                  "fold_3/model_final_checkpoint.model: missing (folds with that checkpoint: 0, 1)");
    // fold_2 with other plans: its .model.pkl says patch x = 64 instead of 80.
    fs::create_directories(res / "fold_2");
    fs::copy_file(fixture("model_final_checkpoint.model"), res / "fold_2" / "model_final_checkpoint.model");
    std::vector<std::uint8_t> pkl = readBytes(fixture("model_final_checkpoint.model.pkl"));
    const std::int64_t from[3] = { 16, 48, 80 }, to[3] = { 16, 48, 64 };
    const std::string text(pkl.begin(), pkl.end());
    const auto at = text.find(std::string(reinterpret_cast<const char*>(from), sizeof from));
    VERIFY(at != std::string::npos);
    if (at != std::string::npos)
      std::memcpy(pkl.data() + at, to, sizeof to);
    {
      std::ofstream out(res / "fold_2" / "model_final_checkpoint.model.pkl", std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(pkl.data()), static_cast<std::streamsize>(pkl.size()));
    }
    const std::string otherPlans =
        (res / "fold_2" / "model_final_checkpoint.model.pkl").string() + ": patch_size differs from fold_0's plans";
    VERIFY_THROWS(importNnUNetResult(res.string(), g_tmp + "/v1_bad"), otherPlans.c_str());
    fs::remove_all(res / "fold_2");
    // fold_2 whose checkpoint holds a key the plan does not have (renamed inside data.pkl).
    fs::create_directories(res / "fold_2");
    fs::copy_file(fixture("model_final_checkpoint.model.pkl"), res / "fold_2" / "model_final_checkpoint.model.pkl");
    const std::vector<std::uint8_t> bytes = readBytes(fixture("model_final_checkpoint.model"));
    const ZipArchive zip(fixture("model_final_checkpoint.model"));
    const auto renamed = patchZipEntry(bytes, zip, "model_final_checkpoint/data.pkl",
                                       [](std::vector<std::uint8_t>& p)
                                       {
                                         const std::string a = "seg_outputs.0.weight", b = "seg_outputs.0.wEight";
                                         const std::string t(p.begin(), p.end());
                                         const auto k = t.find(a);
                                         if (k != std::string::npos)
                                           std::memcpy(p.data() + k, b.data(), b.size());
                                       });
    {
      std::ofstream out(res / "fold_2" / "model_final_checkpoint.model", std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(renamed.data()), static_cast<std::streamsize>(renamed.size()));
    }
    const std::string badKeyFile = (res / "fold_2" / "model_final_checkpoint.model").string() + ": ";
    VERIFY_THROWS(importNnUNetResult(res.string(), g_tmp + "/v1_bad"), badKeyFile.c_str());
    VERIFY_THROWS(importNnUNetResult(res.string(), g_tmp + "/v1_bad"), "seg_outputs.0.w");
    fs::remove_all(res / "fold_2");
    VERIFY(!fs::exists(g_tmp + "/v1_bad"));
  }
}


void testSafety()
{
  // SHA-256 against FIPS 180-4's examples.
  VERIFY(sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  VERIFY(sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  VERIFY(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  {
    Sha256 h; // fed in odd pieces across block boundaries
    const std::string a(1000000, 'a');
    for (std::size_t at = 0; at < a.size(); at += 997)
      h.update(a.data() + at, std::min<std::size_t>(997, a.size() - at));
    VERIFY(h.hexDigest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  }

  // The plan's parameter count is exact (it decides whether a plan fits weights.bin).
  VERIFY_EQ(static_cast<long long>(PlanConfig::fixture().parameterCount()), 483672LL);
  VERIFY_EQ(static_cast<long long>(PlanConfig::paperLike().parameterCount()), 43921312LL);
  {
    PlanConfig plain = PlanConfig::paperLike();
    plain.attention.enabled = false;
    VERIFY_EQ(static_cast<long long>(plain.parameterCount()), 30968928LL);
    const double act = PlanConfig::paperLike().activationBytesEstimate();
    std::printf("    paper-like plan: activation estimate %.2f GB (measured peak RSS 1.9 GiB)\n", act / 1e9);
    VERIFY(act > 0.5e9 && act < 4e9);
  }

  // Absurd plans are refused by the plan reader, naming the field, before anything is built.
  const std::string demoDir = PANSEG_DEMO_MODEL_DIR;
  const bool haveDemo = !demoDir.empty() && fs::is_regular_file(fs::path(demoDir) / "weights.bin");
  const std::string basePlan =
      haveDemo ? readText(fs::path(demoDir) / "plans.json") : PlanConfig::fixture().toJson();
  auto absurd = [&](const std::string& from, const std::string& to, const char* needle)
  {
    std::string text = basePlan;
    const auto at = text.find(from);
    VERIFY(at != std::string::npos);
    if (at == std::string::npos)
      return;
    text.replace(at, from.size(), to);
    const auto t0 = std::chrono::steady_clock::now();
    VERIFY_THROWS(PlanConfig::fromJsonText(text, "plans.json"), needle);
    VERIFY(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 0.5);
  };
  absurd("\"num_layers\": 2", "\"num_layers\": 100000", "attention.num_layers 100000 exceeds the limit");
  absurd("\"base_num_features\": 8", "\"base_num_features\": 1000000",
         "base_num_features");
  absurd(haveDemo ? "\"max_num_features\": 64" : "\"max_num_features\": 32", "\"max_num_features\": 100000",
         "max_num_features");
  absurd("\"nhead\": ", "\"nhead\": 4096, \"x\": ", "attention.nhead");
  absurd("\"dim_feedforward\": ", "\"dim_feedforward\": 10000000, \"x\": ", "attention.dim_feedforward");
  absurd("\"num_classes\": 2", "\"num_classes\": 100000", "num_classes");
  // Every field within its bound, the product is not: parameters, activations.
  absurd(haveDemo ? "\"base_num_features\": 8,\n  \"max_num_features\": 64"
                  : "\"base_num_features\": 8,\n  \"max_num_features\": 32",
         "\"base_num_features\": 1024,\n  \"max_num_features\": 4096", "parameters");
  absurd(haveDemo ? "\"patch_size\": [16, 48, 64]" : "\"patch_size\": [16, 48, 80]",
         "\"patch_size\": [1024, 1024, 1024]", "GiB of activations");

  if (!haveDemo)
  {
    std::printf("SKIP package checks of the safety group: demo package absent at '%s'\n", demoDir.c_str());
    return;
  }
  // The shipped demo package records its weights' SHA-256 and loads verified.
  const ModelPackage demo = loadModelPackage(demoDir);
  VERIFY(demo.weightsVerified);
  VERIFY(demo.weightsSha256 == demo.info.weightsSha256);
  VERIFY(demo.weightsSha256 == sha256Hex(readText(fs::path(demoDir) / "weights.bin")));
  VERIFY(unverifiedWeightsNote(demo).empty());
  VERIFY_EQ(static_cast<long long>(demo.network.stateDictValues() * 4), static_cast<long long>(demo.weightsBytes));

  auto copyDemo = [&](const std::string& name)
  {
    const fs::path dir = fs::path(g_tmp) / name;
    fs::remove_all(dir);
    fs::create_directories(dir.parent_path());
    fs::copy(demoDir, dir, fs::copy_options::recursive);
    return dir;
  };
  const std::string shaKey = ", \"sha256\": \"" + demo.weightsSha256 + "\"";

  // One flipped byte: refused, naming the file and the mismatch.
  {
    const fs::path d = copyDemo("flipped");
    std::string w = readText(d / "weights.bin");
    w[w.size() / 2] = static_cast<char>(w[w.size() / 2] ^ 0x01);
    writeText(d / "weights.bin", w);
    VERIFY_THROWS(loadModelPackage(d.string()), "weights.bin: SHA-256 mismatch");
  }
  // No checksum (a package from before checksums): loads, reported as unverified.
  {
    const fs::path d = copyDemo("old");
    VERIFY(replaceIn(d / "model.json", shaKey, ""));
    const ModelPackage old = loadModelPackage(d.string());
    VERIFY(!old.weightsVerified && old.info.weightsSha256.empty());
    const std::string note = unverifiedWeightsNote(old);
    std::printf("    %s\n", note.c_str());
    VERIFY(note.find("unverified") != std::string::npos && note.find("weights.bin") != std::string::npos);
    // Writing the metadata again records the checksum.
    writePackageMetadata(d.string(), old);
    VERIFY(readText(d / "model.json").find(shaKey) != std::string::npos);
    VERIFY(loadModelPackage(d.string()).weightsVerified);
    // A wrongly formatted checksum is an error, not "unverified".
    VERIFY(replaceIn(d / "model.json", demo.weightsSha256, "abc"));
    VERIFY_THROWS(loadModelPackage(d.string()), "weights.sha256 must be 64 hexadecimal digits");
  }
  // All-zero and NaN weights (no checksum, so the values themselves are judged).
  {
    const fs::path d = copyDemo("zero");
    VERIFY(replaceIn(d / "model.json", shaKey, ""));
    writeText(d / "weights.bin", std::string(static_cast<std::size_t>(demo.weightsBytes), '\0'));
    VERIFY_THROWS(loadModelPackage(d.string()), "weights.bin: every weight is zero");
    std::string w = readText(fs::path(demoDir) / "weights.bin");
    const WeightEntry& e = demo.weights[3];
    const float nan = std::nanf("");
    std::memcpy(&w[static_cast<std::size_t>(e.offset + 4)], &nan, 4);
    writeText(d / "weights.bin", w);
    VERIFY_THROWS(loadModelPackage(d.string()), ("tensor '" + e.name + "' holds NaN").c_str());
  }
  // plans.json that does not make sense.
  auto brokenPlan = [&](const char* name, const std::string& from, const std::string& to, const char* needle)
  {
    const fs::path d = copyDemo(name);
    VERIFY(replaceIn(d / "plans.json", from, to));
    VERIFY_THROWS(loadModelPackage(d.string()), needle);
  };
  brokenPlan("norm", "\"normalization_scheme\": \"CT\"", "\"normalization_scheme\": \"CT3\"",
             "normalization_scheme \"CT3\" is not one of CT, CT2, nonCT, noNorm");
  brokenPlan("percentiles", "\"percentile_00_5\": -127.03, \"percentile_99_5\": 138",
             "\"percentile_00_5\": 138, \"percentile_99_5\": -127.03",
             "percentile_00_5 (138) must be below percentile_99_5 (-127.03)");
  brokenPlan("sd", "\"sd\": 36.97770475399203", "\"sd\": 0", "intensity_properties.sd must be positive");
  brokenPlan("layers", "\"num_layers\": 2", "\"num_layers\": 100000", "attention.num_layers 100000 exceeds");
  brokenPlan("layers3", "\"num_layers\": 2", "\"num_layers\": 3", "the plan does not belong to these weights");
  brokenPlan("aniso", "\"anisotropy_threshold\": 3", "\"anisotropy_threshold\": -1", "anisotropy_threshold");

  // Packages PanSegNet writes record the checksum: the PNet-MSA writer (weights + metadata).
  {
    const fs::path d = fs::path(g_tmp) / "pnet";
    const ModelPackage pnet = writeRandomPnetMsaPackage(d.string(), "CT", 7);
    const ModelPackage again = loadModelPackage(d.string());
    VERIFY(again.weightsVerified);
    VERIFY(again.info.weightsSha256 == sha256Hex(readText(d / "weights.bin")));
  }
}

struct Group
{
  const char* name;
  bool needsFixture;
  void (*run)();
};
} // namespace

int main(int argc, char** argv)
{
  const char* env = std::getenv("PANSEG_SHARED_DIR");
  g_fixture = std::string(env && *env ? env : PANSEG_SHARED_DIR) + "/fixtures/pansegnet-parity";
  int skipCode = 0;
  std::vector<std::string> wanted;
  for (int i = 1; i < argc; ++i)
  {
    const std::string a = argv[i];
    if (a == "--fixture" && i + 1 < argc)
      g_fixture = argv[++i];
    else if (a == "--device" && i + 1 < argc)
      g_device = argv[++i];
    else if (a == "--skip-exit-code" && i + 1 < argc)
      skipCode = std::atoi(argv[++i]);
    else
      wanted.push_back(a);
  }
  g_tmp =
      (fs::temp_directory_path() / ("panseg_models_check_" + std::to_string(::getpid()))).string();
  configureThreads(0);

  const Group groups[] = {{"plans", false, testPlans},
                          {"network", false, testNetwork},
                          {"pickle", false, testPickle},
                          {"parity", true, testParity},
                          {"checkpoint", true, testCheckpoint},
                          {"package", true, testPackage},
                          {"ensemble", true, testEnsemble},
                          {"safety", false, testSafety}};
  int skipped = 0, ran = 0;
  for (const auto& g : groups)
  {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), g.name) == wanted.end())
      continue;
    if (g.needsFixture && !haveFixture())
    {
      std::printf(
          "SKIP models %s: parity fixture absent at %s (clone ../shared beside the repo or set "
          "PANSEG_SHARED_DIR)\n",
          g.name, g_fixture.c_str());
      ++skipped;
      continue;
    }
    std::printf("== models %s\n", g.name);
    std::fflush(stdout);
    ++ran;
    const int before = g_failures;
    try
    {
      g.run();
    }
    catch (const panseg::Error& e)
    {
      ++g_failures;
      std::printf("  FAIL unexpected panseg::Error: %s\n", e.what());
    }
    catch (const c10::Error& e)
    {
      ++g_failures;
      std::printf("  FAIL unexpected LibTorch error: %s\n", e.what_without_backtrace());
    }
    catch (const std::exception& e)
    {
      ++g_failures;
      std::printf("  FAIL unexpected exception: %s\n", e.what());
    }
    std::printf("%s models %s\n", g_failures == before ? "PASS" : "FAIL", g.name);
    std::fflush(stdout);
  }
  std::error_code ec;
  fs::remove_all(g_tmp, ec);
  for (const auto& w : wanted)
  {
    bool known = false;
    for (const auto& g : groups)
      known = known || w == g.name;
    if (!known)
    {
      std::printf("unknown group '%s'\n", w.c_str());
      return 2;
    }
  }
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  if (g_failures)
    return 1;
  return ran == 0 && skipped > 0 ? skipCode : 0;
}
