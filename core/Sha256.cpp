#include "core/Sha256.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define PANSEG_SHA256_X86 1
#endif

namespace panseg
{
namespace
{
constexpr std::uint32_t kRound[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

inline std::uint32_t rotr(std::uint32_t x, int n)
{
  return (x >> n) | (x << (32 - n));
}

#ifdef PANSEG_SHA256_X86
/// True when the processor has the SHA extensions (and the SSSE3/SSE4.1 they are used with).
bool cpuHasShaExtensions()
{
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d))
    return false;
  const bool ssse3 = (c >> 9) & 1u, sse41 = (c >> 19) & 1u;
  if (!ssse3 || !sse41 || __get_cpuid_max(0, nullptr) < 7)
    return false;
  __cpuid_count(7, 0, a, b, c, d);
  return (b >> 29) & 1u;
}

/// `count` 64-byte blocks with the x86 SHA instructions (SHA256RNDS2 does two rounds; MSG1/MSG2
/// extend the message schedule four words at a time). The state is kept as the instructions
/// want it: one register with A,B,E,F and one with C,D,G,H.
__attribute__((target("sha,sse4.1,ssse3"))) void blocksSha(std::uint32_t* h, const std::uint8_t* p,
                                                            std::size_t count)
{
  const __m128i byteSwap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h));      // a b c d (low lane first)
  __m128i s1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + 4)); // e f g h
  t = _mm_shuffle_epi32(t, 0xB1);                                        // b a d c
  s1 = _mm_shuffle_epi32(s1, 0x1B);                                      // h g f e
  __m128i s0 = _mm_alignr_epi8(t, s1, 8);                                // f e b a = ABEF
  s1 = _mm_blend_epi16(s1, t, 0xF0);                                     // h g d c = CDGH
  for (; count > 0; --count, p += 64)
  {
    const __m128i abef = s0, cdgh = s1;
    __m128i w[4];
    for (int i = 0; i < 4; ++i)
      w[i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i)), byteSwap);
    for (int g = 0; g < 16; ++g) // rounds 4g .. 4g+3
    {
      __m128i m = _mm_add_epi32(w[g & 3], _mm_loadu_si128(reinterpret_cast<const __m128i*>(kRound + 4 * g)));
      s1 = _mm_sha256rnds2_epu32(s1, s0, m);
      if (g >= 3 && g <= 14) // words of group g+1 = msg2(msg1-part + w[t-7 ..], words of group g)
      {
        const __m128i next = _mm_add_epi32(w[(g + 1) & 3], _mm_alignr_epi8(w[g & 3], w[(g + 3) & 3], 4));
        w[(g + 1) & 3] = _mm_sha256msg2_epu32(next, w[g & 3]);
      }
      m = _mm_shuffle_epi32(m, 0x0E);
      s0 = _mm_sha256rnds2_epu32(s0, s1, m);
      if (g >= 1 && g <= 12) // first half of the schedule of group g+3
        w[(g + 3) & 3] = _mm_sha256msg1_epu32(w[(g + 3) & 3], w[g & 3]);
    }
    s0 = _mm_add_epi32(s0, abef);
    s1 = _mm_add_epi32(s1, cdgh);
  }
  // Back to a..h in memory order.
  t = _mm_shuffle_epi32(s0, 0x1B);   // a b e f
  s1 = _mm_shuffle_epi32(s1, 0xB1);  // g h c d
  s0 = _mm_blend_epi16(t, s1, 0xF0); // a b c d
  s1 = _mm_alignr_epi8(s1, t, 8);    // e f g h
  _mm_storeu_si128(reinterpret_cast<__m128i*>(h), s0);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(h + 4), s1);
}

const bool kCpuHasSha = cpuHasShaExtensions();
#endif
bool useShaExtensions = Sha256::processorInstructionsAvailable();
} // namespace

bool Sha256::processorInstructionsAvailable()
{
#ifdef PANSEG_SHA256_X86
  return kCpuHasSha;
#else
  return false;
#endif
}

bool Sha256::setProcessorInstructions(bool on)
{
  const bool before = useShaExtensions;
  useShaExtensions = on && processorInstructionsAvailable();
  return before;
}

Sha256::Sha256()
    : h_{ 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 }
{
}

void Sha256::block(const std::uint8_t* p)
{
  std::uint32_t w[64];
  for (int i = 0; i < 16; ++i)
    w[i] = (std::uint32_t(p[4 * i]) << 24) | (std::uint32_t(p[4 * i + 1]) << 16) |
           (std::uint32_t(p[4 * i + 2]) << 8) | std::uint32_t(p[4 * i + 3]);
  for (int i = 16; i < 64; ++i)
  {
    const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
  for (int i = 0; i < 64; ++i)
  {
    const std::uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
    const std::uint32_t ch = (e & f) ^ (~e & g);
    const std::uint32_t t1 = h + S1 + ch + kRound[i] + w[i];
    const std::uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
    const std::uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
    const std::uint32_t t2 = S0 + maj;
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h_[0] += a;
  h_[1] += b;
  h_[2] += c;
  h_[3] += d;
  h_[4] += e;
  h_[5] += f;
  h_[6] += g;
  h_[7] += h;
}

void Sha256::update(const void* data, std::size_t size)
{
  const auto* p = static_cast<const std::uint8_t*>(data);
  totalBytes_ += size;
  if (used_ > 0)
  {
    const std::size_t take = std::min(size, buffer_.size() - used_);
    std::memcpy(buffer_.data() + used_, p, take);
    used_ += take;
    p += take;
    size -= take;
    if (used_ < buffer_.size())
      return;
    block(buffer_.data()); // one block: the portable code is as good
    used_ = 0;
  }
#ifdef PANSEG_SHA256_X86
  if (useShaExtensions && size >= 64)
  {
    const std::size_t blocks = size / 64;
    blocksSha(h_.data(), p, blocks);
    p += 64 * blocks;
    size -= 64 * blocks;
  }
#endif
  for (; size >= 64; p += 64, size -= 64)
    block(p);
  if (size > 0)
  {
    std::memcpy(buffer_.data(), p, size);
    used_ = size;
  }
}

std::string Sha256::digest()
{
  const std::uint64_t bits = totalBytes_ * 8;
  const std::uint8_t one = 0x80, zero = 0;
  update(&one, 1);
  while (used_ != 56)
    update(&zero, 1);
  std::uint8_t len[8];
  for (int i = 0; i < 8; ++i)
    len[i] = static_cast<std::uint8_t>(bits >> (56 - 8 * i));
  update(len, 8);
  std::string out(32, '\0');
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 4; ++j)
      out[std::size_t(4 * i + j)] = static_cast<char>((h_[std::size_t(i)] >> (24 - 8 * j)) & 0xff);
  return out;
}

std::string Sha256::hexDigest()
{
  const std::string d = digest();
  char out[65];
  for (std::size_t i = 0; i < 32; ++i)
    std::snprintf(out + 2 * i, 3, "%02x", unsigned(static_cast<unsigned char>(d[i])));
  return std::string(out, 64);
}

std::string sha256Hex(const std::string& bytes)
{
  Sha256 h;
  h.update(bytes.data(), bytes.size());
  return h.hexDigest();
}


std::string sha256Digest(const std::string& bytes)
{
  Sha256 h;
  h.update(bytes.data(), bytes.size());
  return h.digest();
}
} // namespace panseg
