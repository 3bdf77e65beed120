// Test helper: random edits of a text for differential tests of parsers (a fast pass against a
// full parse, our parser against another): bytes deleted, inserted or replaced from an alphabet,
// short spans repeated, the text cut short. Deterministic for a seeded generator.
#pragma once

#include <cstddef>
#include <random>
#include <string>
#include <string_view>

namespace promptops::testing {

// `text` with 0 to max_edits - 1 random edits; bytes come from `alphabet`.
inline std::string Mutate(std::string text, std::mt19937& rng, std::string_view alphabet,
                          std::size_t max_edits = 3, std::size_t max_repeat = 12) {
  auto pick = [&rng](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };
  std::size_t edits = pick(max_edits);  // 0 edits: the text itself
  for (std::size_t e = 0; e < edits && !text.empty(); ++e) {
    std::size_t at = pick(text.size());
    switch (pick(5)) {
      case 0:
        text.erase(at, 1);
        break;
      case 1:
        text.insert(at, 1, alphabet[pick(alphabet.size())]);
        break;
      case 2:
        text[at] = alphabet[pick(alphabet.size())];
        break;
      case 3:
        text.insert(at, text.substr(at, pick(max_repeat) + 1));
        break;
      default:
        text.resize(at);
    }
  }
  return text;
}

}  // namespace promptops::testing
