// Hashing and randomness: SHA-256 (content hashes, API key hashes) and secure random tokens.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace promptops {

// A hash for unordered containers keyed by std::string that also finds std::string_view keys
// (transparent: a lookup needs no temporary std::string). Use with std::equal_to<>.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

// Lower-case hex SHA-256 of the bytes.
std::string Sha256Hex(std::string_view data);
// The same 64 characters written to `out` (no allocation, for hot paths).
void Sha256HexTo(std::string_view data, char (&out)[64]);
// Constant-time comparison of two strings of equal length (false if lengths differ).
bool ConstantTimeEquals(std::string_view a, std::string_view b);
// Base64 (RFC 4648, with padding) encoding.
std::string Base64Encode(std::string_view data);
// Base64 (RFC 4648, padding optional) decoding; nullopt when malformed.
std::optional<std::string> Base64Decode(std::string_view s);
// A random token of `length` characters from [A-Za-z0-9], from the OS's CSPRNG. For secrets.
std::string RandomToken(std::size_t length);
// A random identifier of `length` characters from [A-Za-z0-9] for request and trace ids: drawn
// from a per-thread generator seeded once from the CSPRNG, so it is cheap on the hot path.
// Unique in practice, not secret: never use it for keys or tokens.
std::string FastId(std::size_t length);
// FastId's characters written to [out, out + n) (into a string the caller reuses).
void FillFastId(char* out, std::size_t n);
// `prefix` + `length` characters of [0-9A-Za-z] that sort (as bytes) by time: the first 8
// characters are `unix_ms` in base 62 with the ASCII-ordered alphabet 0-9A-Za-z (zero-padded;
// negative times count as 0; 8 digits last until the year 8888), the rest random as in FastId.
// For ids that are a B-tree key: new ids land at the right edge of the index instead of at random
// pages. Ids of one millisecond are in random order. length < 8 truncates the time (no longer
// sorted). Unique in practice (16 random characters = 95 bits), not secret.
std::string TimeOrderedId(std::string_view prefix, std::size_t length, std::int64_t unix_ms);

}  // namespace promptops
