#include "app/demo.h"

#include "core/json.h"

namespace promptops::app {

namespace bj = boost::json;

namespace {

Status Push(registry::Registry& reg, const Actor& actor, std::string name, bj::value content,
            bj::object config, std::string message, std::vector<std::string> labels = {},
            bj::object metadata = {}, std::string description = "",
            std::vector<std::string> tags = {}) {
  registry::PushRequest req;
  req.name = std::move(name);
  req.content = std::move(content);
  req.config = std::move(config);
  req.message = std::move(message);
  req.labels = std::move(labels);
  req.metadata = std::move(metadata);
  req.author = "demo";
  if (!description.empty()) req.description = description;
  if (!tags.empty()) req.tags = tags;
  auto r = reg.Push(actor, std::move(req));
  if (!r.ok()) return std::move(r).error();
  return OkStatus();
}

bj::array Chat(std::initializer_list<std::pair<const char*, const char*>> msgs) {
  bj::array a;
  for (const auto& [role, content] : msgs)
    a.push_back(bj::object{{"role", role}, {"content", content}});
  return a;
}

}  // namespace

Status LoadDemoData(registry::Registry& reg, const Actor& actor) {
  // Only on an empty project: a restart with --demo must not add versions on top of user edits.
  if (reg.List(actor, {}).total > 0) return OkStatus();
  const bj::object model{{"model", "demo-chat"}, {"temperature", 0.2}, {"max_tokens", 120}};
  bj::object warm = model;
  warm["temperature"] = 0.7;

  PO_RETURN_IF_ERROR(Push(reg, actor, "shared/tone",
                          "Be concise, friendly and precise. Never invent policy details.", {},
                          "Shared tone of voice", {"production"}, {},
                          "Tone guideline included by other prompts", {"shared"}));

  PO_RETURN_IF_ERROR(
      Push(reg, actor, "support/refund-bot",
           Chat({{"system", "You are the refund assistant of {{company}}. {{> shared/tone}}"},
                 {"user", "Order {{order_id}}: {{question}}"}}),
           model, "First refund assistant", {}, bj::object{{"ticket", "SUP-101"}},
           "Answers refund questions for support", {"support", "customer-facing"}));
  PO_RETURN_IF_ERROR(Push(reg, actor, "support/refund-bot",
                          Chat({{"system",
                                 "You are the refund assistant of {{company}}. {{> shared/tone}}\n"
                                 "Refunds are possible within {{refund_days}} days."},
                                {"user", "Order {{order_id}}: {{question}}"}}),
                          model, "State the refund window", {"production"},
                          bj::object{{"ticket", "SUP-114"}, {"reviewer", "mina"}}));
  PO_RETURN_IF_ERROR(
      Push(reg, actor, "support/refund-bot",
           Chat({{"system",
                  "You are the refund assistant of {{company}}. {{> shared/tone}}\n"
                  "Refunds are possible within {{refund_days}} days. Answer in {{language}}."},
                 {"user", "Order {{order_id}}: {{question}}"}}),
           model, "Answer in the customer's language", {"staging"},
           bj::object{{"ticket", "SUP-120"}, {"rollback_plan", "move staging back to v2"}}));

  PO_RETURN_IF_ERROR(Push(reg, actor, "marketing/tagline",
                          "Write a tagline for {{product}} aimed at {{audience}}.", warm,
                          "First tagline prompt", {}, {}, "Product taglines", {"marketing"}));
  PO_RETURN_IF_ERROR(Push(reg, actor, "marketing/tagline",
                          "Write one short tagline for {{product}} aimed at {{audience}}.\n"
                          "{{#korean}}한국어로 작성하세요.{{/korean}}",
                          warm, "Optional Korean output", {"production"}));

  PO_RETURN_IF_ERROR(
      Push(reg, actor, "고객지원/인사말",
           "{{name}}님, 안녕하세요! {{company}} 고객지원팀입니다. 무엇을 도와드릴까요?", model,
           "한국어 인사말 첫 버전", {"production"}, {}, "Korean greeting", {"support", "ko"}));

  PO_RETURN_IF_ERROR(
      Push(reg, actor, "summarize",
           "Summarize the following text in {{max_sentences}} sentences:\n\n{{text}}", model,
           "Initial summarizer", {"production"}, {}, "Generic summarizer", {"utility"}));
  auto branch = reg.CreateBranch(actor, "summarize", "bullets", std::nullopt);
  if (!branch.ok() && branch.error().code != ErrorCode::kAlreadyExists) return branch.error();
  registry::PushRequest b;
  b.name = "summarize";
  b.branch = "bullets";
  b.content = "Summarize the following text as {{max_sentences}} bullet points:\n\n{{text}}";
  b.config = model;
  b.message = "Experiment: bullet points";
  b.author = "demo";
  auto pushed = reg.Push(actor, std::move(b));
  if (!pushed.ok()) return pushed.error();
  return OkStatus();
}

}  // namespace promptops::app
