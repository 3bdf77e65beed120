// Prompts as files: the text format users keep in git, and reading/writing a directory of them.
//
// A prompt file is UTF-8 text with LF line endings: YAML front matter between a first line
// "---" and the next line "---", then the body.
//
//   ---
//   name: support/refund-bot
//   type: chat
//   description: Answers refund questions
//   tags: [support]
//   labels: [staging]
//   message: Shorter system prompt
//   config: {model: gpt-4o-mini, temperature: 0.2}
//   metadata: {owner: payments}
//   ---
//   @system
//   You are a refund assistant for {{company}}.
//   @placeholder history
//   @user
//   {{question}}
//
// Front matter keys (all optional except that a file outside a prompt directory has no name
// without "name"); any other key is an error:
//   name         prompt name (ValidatePromptName)
//   type         "text" (default) or "chat"
//   description  string
//   tags         list of strings
//   labels       list of labels (ValidateLabel) to point at the pushed version
//   message      commit message for the push
//   config       mapping: model parameters (model, temperature, max_tokens, ...)
//   metadata     mapping: free-form
// config and metadata become JSON with YAML types kept: plain scalars are resolved like the YAML
// 1.2 core schema (null/~/empty -> null, true/false -> bool, decimal integers -> int,
// decimals/exponents/.inf/.nan -> double, everything else -> string); quoted scalars are
// always strings; nested mappings and lists are kept.
//
// Body. The body is everything after the closing "---\n" line, verbatim.
//  - type text: the body is the template text, byte for byte (trailing newlines included).
//  - type chat: the body is a sequence of sections, each starting with a marker line alone on
//    its line: "@system", "@user", "@assistant" or "@placeholder NAME" (NAME of [A-Za-z0-9_.-]).
//    A message's content is the text from after its marker line to the next marker line (or the
//    end of the body), with exactly one trailing '\n' removed, so content can span lines and
//    may itself end in newlines. A content line starting with '@' is written "@@..." (the extra
//    '@' is removed on parse); any other line starting with a single '@' that is not a marker is
//    an error. A placeholder section has no content (blank lines after it are ignored). Blank
//    text before the first marker is ignored; other text there is an error.
//
// Canonical form: FormatPromptFile writes front matter keys in the fixed order name, type,
// description, tags, labels, message, config, metadata (empty ones omitted, type always
// written) and, for chat, each message as its marker line, its escaped content and "\n". For
// any PromptFile f that ParsePromptFile accepts the output of, ParsePromptFile(
// FormatPromptFile(f)) == f exactly.
//
// Pure functions except ReadPromptDir/WritePromptDir, which touch the file system; all are
// thread-safe (concurrent writers to the same directory are not coordinated beyond each file
// being replaced atomically).
#pragma once

#include <boost/json.hpp>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace promptops::registry {

// One chat message, or a placeholder for a list of messages supplied at render time.
struct ChatMessage {
  std::string role;         // "system" | "user" | "assistant"; empty for a placeholder
  std::string content;      // empty for a placeholder
  std::string placeholder;  // non-empty => a message-list placeholder with this name

  friend bool operator==(const ChatMessage&, const ChatMessage&) = default;
};

// The parsed contents of a prompt file.
struct PromptFile {
  std::string name;  // from "name:"; the directory reader derives it from the path when absent
  std::string type = "text";  // "text" | "chat"
  std::string description;
  std::vector<std::string> tags;
  std::vector<std::string> labels;    // labels to point at this version on push
  boost::json::object config;         // "config:" (model, temperature, max_tokens, ...)
  boost::json::object metadata;       // "metadata:"
  std::string message;                // optional commit message ("message:")
  std::string text;                   // type text: the template body
  std::vector<ChatMessage> messages;  // type chat: parsed from the body

  friend bool operator==(const PromptFile&, const PromptFile&) = default;
};

// Parses a prompt file. Errors are InvalidArgument and name the line where possible
// ("line 4: unknown front matter key 'modle'"); line numbers count from 1 at the opening "---".
Result<PromptFile> ParsePromptFile(std::string_view content);

// The canonical text of f (see above). Meant for files that are valid (as ParsePromptFile
// returns them); for type "text" the messages are ignored, for "chat" the text is ignored.
std::string FormatPromptFile(const PromptFile& f);

// File extension of prompt files.
inline constexpr std::string_view kPromptFileExtension = ".prompt";

// Reads every regular file named *.prompt below dir, recursively. A file's name defaults to its
// path relative to dir without the extension ("support/refund-bot.prompt" ->
// "support/refund-bot"); if its front matter has a name, that name must equal the path-derived
// one (so push and export stay lossless). Returns the files sorted by name. Errors name the file:
// InvalidArgument for content or naming problems, NotFound if dir is not a directory, Internal
// for I/O failures.
Result<std::vector<PromptFile>> ReadPromptDir(const std::filesystem::path& dir);

// Writes each file to dir/<name>.prompt in canonical form, creating folders as needed. Each file
// is written to a temporary file beside it and renamed over the target, so readers never see a
// partial file. Names must be valid prompt names (which cannot escape dir) and unique; those
// checks run before anything is written. Existing files not in `files` are left alone.
Status WritePromptDir(const std::filesystem::path& dir, const std::vector<PromptFile>& files);

}  // namespace promptops::registry
