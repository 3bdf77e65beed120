// Mustache templates for prompts: parse once into an immutable node tree, render many times
// against a JSON context.
//
// Implements the Mustache spec (github.com/mustache/spec, non-optional modules): variables,
// {{{triple}}} and {{&unescaped}} variables, sections, inverted sections, comments, set
// delimiters {{=<% %>=}}, partials {{> name}}, standalone-line rules, dotted names and the
// implicit iterator {{.}}. Lambdas are not supported (contexts are JSON). Nothing in a tag is
// ever evaluated: {{7*7}} and {{''.__class__}} are just names that do not resolve.
//
// Differences from an HTML-oriented Mustache, chosen for prompts:
//   - HTML escaping of {{x}} is off by default (RenderOptions::html_escape).
//   - Strict mode reports every unresolved name instead of rendering it empty.
//   - Arrays and objects interpolated with {{x}} render as compact JSON.
//
// Truthiness (sections and inverted sections) follows the spec's `!!data` rule: false, null,
// "" (empty string), 0 / 0.0 and [] (empty array) are falsy; everything else, including {}, is
// truthy. A name that does not resolve is falsy.
//
// Thread safety: a Template is immutable after Parse; any number of threads may call Render on
// the same const Template concurrently. Copies are cheap (the node tree is shared).
#pragma once

#include <boost/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace promptops::registry {

class Template;
class TemplateRenderer;  // template.cc

struct RenderOptions {
  // Escape & < > " ' in {{x}} output. Prompts: false. The spec runner sets true.
  bool html_escape = false;
  // Unresolved names (variables, sections and inverted sections that are evaluated, i.e. not
  // inside a section that did not render) make Render fail with
  // InvalidArgument("missing variables: a, b.c, x") listing ALL of them (sorted, unique, as
  // written in the tags). A name that resolves to null is resolved (renders empty, is falsy).
  // Without a `partials` resolver, a partial tag is an error too.
  bool strict = false;
  // Resolves a partial name exactly as written in the tag (e.g. "header",
  // "support/intro@production", "x#3"). Returns the parsed template or an error (NotFound etc.),
  // which Render propagates (code kept, message prefixed with "partial 'name': "). Called on
  // every render of a partial tag, so it should be cheap (cache parsed templates); it may be
  // called concurrently when Render is.
  std::function<Result<std::shared_ptr<const Template>>(std::string_view name)> partials;
  // Partials nested deeper than this (the template itself is depth 0) -> InvalidArgument.
  int max_partial_depth = 5;
};

class Template {
 public:
  // An empty template (renders "").
  Template();

  // Parses mustache source. Syntax errors -> InvalidArgument with message
  // "line L, column C: <what>" (1-based; columns count Unicode code points), pointing at the
  // offending tag: unclosed tag, unclosed section (points at the opening tag), mismatched or
  // unexpected closing tag, invalid set-delimiter tag, empty tag name, whitespace inside a name.
  static Result<Template> Parse(std::string_view source);

  // The top-level input names the template reads, sorted and unique. A name counts when the
  // tag (variable, section or inverted section) is not nested inside a section: names inside
  // {{#s}}...{{/s}} resolve against the section's item first, so they are not top-level inputs;
  // the section name itself is. Inverted sections push no context, so names inside them (and
  // outside any section) count. A dotted name "a.b.c" contributes "a"; "." is ignored.
  // Names read by partials are not included (partials are resolved only at render time).
  const std::vector<std::string>& Variables() const;

  // Partial names as written in tags, anywhere in the template (sorted, unique).
  const std::vector<std::string>& Partials() const;

  // Renders against a JSON context (usually an object). Missing names render empty, or fail in
  // strict mode (see RenderOptions::strict). Numbers render in shortest round-trip form
  // (85, 1.21), booleans as true/false, null as "".
  // Partials: resolved through opts.partials; without a resolver a partial renders empty
  // (lenient) or is an error (strict). A partial that includes itself again with the same
  // context item can never terminate -> InvalidArgument("partial cycle: a -> b -> a"); nesting
  // deeper than opts.max_partial_depth -> InvalidArgument. A standalone partial tag indents
  // every line of the partial's template text (not of interpolated values) by the whitespace
  // before the tag; nested partials inherit the indentation of the partial that includes them.
  Result<std::string> Render(const boost::json::value& context,
                             const RenderOptions& opts = {}) const;

  struct Compiled;  // The parsed node tree; defined in template.cc.

 private:
  friend class TemplateRenderer;
  explicit Template(std::shared_ptr<const Compiled> compiled);
  std::shared_ptr<const Compiled> compiled_;
};

}  // namespace promptops::registry
