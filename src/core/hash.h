// Hashing and randomness: SHA-256 (content hashes, API key hashes) and secure random tokens.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace promptops {

// Lower-case hex SHA-256 of the bytes.
std::string Sha256Hex(std::string_view data);
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

}  // namespace promptops
