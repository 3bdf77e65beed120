#include "core/hash.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace promptops {

void Sha256HexTo(std::string_view data, char (&out)[64]) {
  // EVP_Digest would allocate a context and look the algorithm up (under a lock) on every call;
  // this runs for every authenticated request, so each thread keeps a context and the
  // algorithm is fetched once.
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct Ctx {
    EVP_MD_CTX* p = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(p); }
  };
  thread_local Ctx ctx;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!kSha256 || !ctx.p || EVP_DigestInit_ex2(ctx.p, kSha256, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.p, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.p, digest, &len) != 1) {
    EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < 32; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xF];
  }
}

std::string Sha256Hex(std::string_view data) {
  char hex[64];
  Sha256HexTo(data, hex);
  return std::string(hex, sizeof hex);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  // Eight bytes per step (OpenSSL's CRYPTO_memcmp goes byte by byte: ~400 instructions for a
  // key's 64 hex digits, on every authenticated request). The empty asm keeps the compiler from
  // turning the accumulation into an early exit.
  std::uint64_t diff = 0;
  std::size_t i = 0;
  for (; i + 8 <= a.size(); i += 8) {
    std::uint64_t x, y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    diff |= x ^ y;
    __asm__("" : "+r"(diff));
  }
  for (; i < a.size(); ++i) {
    diff |= static_cast<std::uint64_t>(static_cast<unsigned char>(a[i]) ^
                                       static_cast<unsigned char>(b[i]));
    __asm__("" : "+r"(diff));
  }
  return diff == 0;
}

namespace {

// xoshiro256** (Blackman and Vigna): fast, 256 bits of state, good statistical quality; not a
// CSPRNG (nor was the mt19937_64 it replaced). Each thread's is seeded from the CSPRNG.
class IdGenerator {
 public:
  IdGenerator() {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(s_), sizeof s_) != 1) {
      throw std::runtime_error("RAND_bytes failed");
    }
    if ((s_[0] | s_[1] | s_[2] | s_[3]) == 0) s_[0] = 1;  // the one state it must not be in
  }
  std::uint64_t Next() {
    std::uint64_t result = std::rotl(s_[1] * 5, 7) * 9;
    std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = std::rotl(s_[3], 45);
    return result;
  }

 private:
  std::uint64_t s_[4];
};

}  // namespace

// Fills [out, out + n) with random characters of [A-Za-z0-9] from a per-thread generator: eight
// characters per 64-bit draw. The draw is read as a fraction in [0, 1): each character is the
// integer part of the fraction times 62, the rest of the product the next fraction (a multiply
// per character; each uses ~6 of the draw's bits, and eight leave the last with ~16 bits to
// itself, so the bias is immaterial for identifiers).
void FillFastId(char* out, std::size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  constexpr std::size_t kPerDraw = 8;
  thread_local IdGenerator generator;
  // A local copy for the loop: through the thread-local, every draw reloaded and stored the
  // state (a store through `out`, a char pointer, may alias it).
  IdGenerator rng = generator;
  auto next_char = [](std::uint64_t& fraction) {
    unsigned __int128 product = static_cast<unsigned __int128>(fraction) * 62;
    fraction = static_cast<std::uint64_t>(product);
    return kAlphabet[static_cast<std::uint64_t>(product >> 64)];
  };
  // Whole draws first, their eight characters without a bound check each; then the rest.
  std::size_t i = 0;
  for (; n - i >= kPerDraw; i += kPerDraw) {
    std::uint64_t fraction = rng.Next();
    for (std::size_t k = 0; k < kPerDraw; ++k) out[i + k] = next_char(fraction);
  }
  if (i < n) {
    std::uint64_t fraction = rng.Next();
    for (; i < n; ++i) out[i] = next_char(fraction);
  }
  generator = rng;
}

std::string FastId(std::size_t length) {
  std::string out(length, 'A');
  FillFastId(out.data(), length);
  return out;
}

std::string TimeOrderedId(std::string_view prefix, std::size_t length, std::int64_t unix_ms) {
  // ASCII order, so that byte-wise comparison of the digits is numeric comparison.
  static constexpr char kDigits[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  constexpr std::size_t kTimeDigits = 8;
  constexpr std::uint64_t kMax = 218340105584895;  // 62^8 - 1
  std::uint64_t t = unix_ms < 0 ? 0 : static_cast<std::uint64_t>(unix_ms);
  if (t > kMax) t = kMax;
  char time_digits[kTimeDigits];
  for (std::size_t i = kTimeDigits; i-- > 0;) {
    time_digits[i] = kDigits[t % 62];
    t /= 62;
  }
  std::string out(prefix.size() + length, '0');
  prefix.copy(out.data(), prefix.size());
  std::size_t n_time = length < kTimeDigits ? length : kTimeDigits;
  std::copy_n(time_digits, n_time, out.data() + prefix.size());
  FillFastId(out.data() + prefix.size() + n_time, length - n_time);
  return out;
}

std::string RandomToken(std::size_t length) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  out.reserve(length);
  unsigned char buf[64];
  while (out.size() < length) {
    if (RAND_bytes(buf, sizeof buf) != 1) throw std::runtime_error("RAND_bytes failed");
    for (unsigned char b : buf) {
      if (b >= 248) continue;  // 248 = 62 * 4: reject to keep the distribution uniform
      out.push_back(kAlphabet[b % 62]);
      if (out.size() == length) break;
    }
  }
  return out;
}

std::string Base64Encode(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(data[i]) << 16) |
                 (static_cast<unsigned char>(data[i + 1]) << 8) |
                 static_cast<unsigned char>(data[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < data.size()) {
    unsigned v = static_cast<unsigned char>(data[i]) << 16;
    if (i + 1 < data.size()) v |= static_cast<unsigned char>(data[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < data.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view s) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  while (!s.empty() && s.back() == '=') s.remove_suffix(1);
  std::string out;
  unsigned int buf = 0;
  int bits = 0;
  for (char c : s) {
    int v = val(c);
    if (v < 0) return std::nullopt;
    buf = (buf << 6) | static_cast<unsigned int>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xFF));
    }
  }
  if (bits >= 6) return std::nullopt;  // a lone trailing character
  return out;
}

}  // namespace promptops
