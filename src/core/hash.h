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
// Base64 (RFC 4648, padding optional) decoding; nullopt when malformed.
std::optional<std::string> Base64Decode(std::string_view s);
// A random token of `length` characters from [A-Za-z0-9], from the OS's CSPRNG.
std::string RandomToken(std::size_t length);

}  // namespace promptops
