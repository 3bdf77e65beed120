// The mapping between prompt files (registry/prompt_file.h) and the REST API's JSON, used by
// `prompt push`, `prompt export`, `prompt create --file` and for showing content.
//
// Round trip contract: for a prompt file f, pushing PushBody(f) and exporting the resulting
// version with ExportedFile gives f back except for `message`, which export never writes (a
// commit message describes a change, not the state of a prompt; versions are identical by
// content, config and metadata, so the message never causes a new version). Hence push ->
// export -> push creates no versions and a second export is byte-identical.
//
// Pure functions; thread-safe.
#pragma once

#include <boost/json.hpp>

#include <string>
#include <string_view>

#include "core/error.h"
#include "registry/prompt_file.h"

namespace promptops::cli {

// The API content value of a file: the text for type text, else the messages array
// [{"role","content"} | {"type":"placeholder","name"}].
boost::json::value ContentJson(const registry::PromptFile& f);

// The body of POST /api/v1/prompts/{name}/versions for a file: type, prompt, config, metadata,
// labels, description, tags (the file is the source of truth for these: an empty description
// or tag list clears them), and message = f.message, else fallback_message.
boost::json::object PushBody(const registry::PromptFile& f, std::string_view fallback_message);

// The prompt file for the response of GET /api/v1/prompts/{name}?... (a prompt object with a
// "version" member): name, type, description and tags of the prompt; labels of the version
// without the automatic "latest"; config, metadata and content of the version; no message.
// Errors: InvalidArgument if the response lacks fields or has content of an unknown shape.
Result<registry::PromptFile> ExportedFile(const boost::json::object& prompt);

// Fills f.type and f.text or f.messages from an API content value ("prompt" of a version).
Status SetContent(registry::PromptFile& f, std::string_view type,
                  const boost::json::value& content);

// The content as a prompt file body: text verbatim; chat as "@role" sections (see
// docs/prompt-files.md). Used to show versions and rendered messages.
std::string BodyText(const registry::PromptFile& f);

}  // namespace promptops::cli
