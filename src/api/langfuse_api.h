// Langfuse-compatible prompt API: the subset of Langfuse's public REST API that its SDKs use for
// prompt management (/api/public/v2/prompts...), served from the promptops registry, so that an
// application using the official Langfuse SDK (JS @langfuse/client, Python langfuse) can point
// its baseUrl at promptops unchanged. See docs/langfuse.md for what is supported and how it
// differs from Langfuse.
//
// Routes (all authenticated with "Authorization: Basic base64(public id:secret)", a promptops API
// key standing in for a Langfuse key pair; Bearer secrets are accepted too):
//   GET    /api/public/v2/prompts/{name}?version=N|label=L  -> 200 Prompt      (viewer)
//   GET    /api/public/v2/prompts?name&label&tag&version&page&limit&fromUpdatedAt&toUpdatedAt
//                                                           -> 200 PromptMetaListResponse (viewer)
//   POST   /api/public/v2/prompts  CreatePromptRequest      -> 201 Prompt      (editor)
//   PATCH  /api/public/v2/prompts/{name}/versions/{version} {newLabels}
//                                                           -> 200 Prompt      (editor)
//   DELETE /api/public/v2/prompts/{name}                    -> 204             (admin)
//
// Errors use Langfuse's body {"message": "...", "error": "<Langfuse error class>"} with the
// matching status (400 InvalidRequestError, 401 UnauthorizedError, 403 ForbiddenError,
// 404 LangfuseNotFoundError, ...), not promptops' own {"error":{"code","message"}} shape, because
// the Langfuse SDKs surface that body to their callers.
//
// Threads: the handlers are stateless apart from `ctx`, whose services are thread-safe; reads run
// on network threads (snapshot only), writes are registered as blocking routes.
#pragma once

#include <boost/json.hpp>

#include "api/context.h"
#include "core/error.h"
#include "http/message.h"
#include "http/router.h"
#include "registry/snapshot.h"

namespace promptops::api {

// Registers the routes above on `router`. `ctx` must outlive the router.
void AddLangfuseRoutes(http::Router& router, ApiContext& ctx);

// The Langfuse Prompt object for version `v` of `p`: {id, createdAt, updatedAt, projectId,
// createdBy, name, version, type, prompt, config, labels, tags, commitMessage}. Chat messages are
// {role, content}; placeholders {type:"placeholder", name}. Exposed for tests and tools.
boost::json::object LangfusePromptJson(const registry::PromptView& p,
                                       const registry::VersionView& v);

// The Langfuse error response for `e`: status from the error kind, body {message, error}.
http::Response LangfuseErrorResponse(const Error& e);

}  // namespace promptops::api
