#include "registry/prompt_file.h"

#include <yaml-cpp/yaml.h>

#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <regex>
#include <set>
#include <sstream>

#include "core/utf8.h"
#include "registry/names.h"

namespace promptops::registry {
namespace fs = std::filesystem;
namespace {

constexpr int kFrontMatterFirstLine = 2;  // file line of the first YAML line
constexpr int kMaxYamlDepth = 64;
constexpr std::size_t kMaxYamlNodes = 100000;

Error LineError(int line, const std::string& msg) {
  return Error::InvalidArgument("line " + std::to_string(line) + ": " + msg);
}

int FileLine(const YAML::Node& n) { return n.Mark().line + kFrontMatterFirstLine; }

// ---- YAML scalar resolution (YAML 1.2 core schema subset) ----

enum class ScalarKind { kNull, kBool, kInt, kFloat, kString };

bool IsNullText(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}
bool IsBoolText(std::string_view s, bool* value) {
  if (s == "true" || s == "True" || s == "TRUE") {
    *value = true;
    return true;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    *value = false;
    return true;
  }
  return false;
}
bool IsIntText(std::string_view s) {
  static const std::regex re("[-+]?[0-9]+");
  return std::regex_match(s.begin(), s.end(), re);
}
bool IsFloatText(std::string_view s) {
  static const std::regex re(
      R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))");
  return std::regex_match(s.begin(), s.end(), re);
}

ScalarKind ResolvePlain(std::string_view s) {
  bool b;
  if (IsNullText(s)) return ScalarKind::kNull;
  if (IsBoolText(s, &b)) return ScalarKind::kBool;
  if (IsIntText(s)) return ScalarKind::kInt;
  if (IsFloatText(s)) return ScalarKind::kFloat;
  return ScalarKind::kString;
}

Result<double> ParseFloat(const std::string& s, int line) {
  std::string_view v = s;
  bool neg = false;
  if (!v.empty() && (v[0] == '-' || v[0] == '+')) {
    neg = v[0] == '-';
    v.remove_prefix(1);
  }
  double d = 0;
  if (v == ".inf" || v == ".Inf" || v == ".INF") {
    d = std::numeric_limits<double>::infinity();
  } else if (v == ".nan" || v == ".NaN" || v == ".NAN") {
    d = std::numeric_limits<double>::quiet_NaN();
  } else {
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
    if (ec != std::errc() || ptr != v.data() + v.size()) {
      return LineError(line, "number '" + s + "' is out of range");
    }
  }
  return neg ? -d : d;
}

Result<boost::json::value> ScalarToJson(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  const std::string& tag = n.Tag();
  ScalarKind kind;
  if (tag == "!") {
    kind = ScalarKind::kString;  // quoted or block scalar
  } else if (tag == "?" || tag.empty()) {
    kind = ResolvePlain(s);
  } else if (tag == "tag:yaml.org,2002:str") {
    kind = ScalarKind::kString;
  } else if (tag == "tag:yaml.org,2002:int") {
    kind = ScalarKind::kInt;
  } else if (tag == "tag:yaml.org,2002:float") {
    kind = ScalarKind::kFloat;
  } else if (tag == "tag:yaml.org,2002:bool") {
    kind = ScalarKind::kBool;
  } else if (tag == "tag:yaml.org,2002:null") {
    kind = ScalarKind::kNull;
  } else {
    return LineError(FileLine(n), "unsupported YAML tag '" + tag + "'");
  }
  switch (kind) {
    case ScalarKind::kNull:
      return boost::json::value(nullptr);
    case ScalarKind::kBool: {
      bool b;
      if (!IsBoolText(s, &b)) return LineError(FileLine(n), "'" + s + "' is not a boolean");
      return boost::json::value(b);
    }
    case ScalarKind::kInt: {
      if (!IsIntText(s)) return LineError(FileLine(n), "'" + s + "' is not an integer");
      std::string_view v = s;
      if (v[0] == '+') v.remove_prefix(1);
      int64_t i;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), i);
      if (ec == std::errc() && p == v.data() + v.size()) return boost::json::value(i);
      uint64_t u;
      auto [pu, ecu] = std::from_chars(v.data(), v.data() + v.size(), u);
      if (ecu == std::errc() && pu == v.data() + v.size()) return boost::json::value(u);
      return LineError(FileLine(n), "integer '" + s + "' is out of range");
    }
    case ScalarKind::kFloat: {
      if (!IsFloatText(s)) return LineError(FileLine(n), "'" + s + "' is not a number");
      PO_ASSIGN_OR_RETURN(double d, ParseFloat(s, FileLine(n)));
      return boost::json::value(d);
    }
    case ScalarKind::kString:
      break;
  }
  return boost::json::value(s);
}

Result<boost::json::value> YamlToJson(const YAML::Node& n, int depth, std::size_t& nodes) {
  if (depth > kMaxYamlDepth) return LineError(FileLine(n), "YAML nested too deeply");
  if (++nodes > kMaxYamlNodes) return LineError(FileLine(n), "YAML front matter too large");
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return boost::json::value(nullptr);
    case YAML::NodeType::Scalar:
      return ScalarToJson(n);
    case YAML::NodeType::Sequence: {
      boost::json::array arr;
      for (const auto& item : n) {
        PO_ASSIGN_OR_RETURN(auto v, YamlToJson(item, depth + 1, nodes));
        arr.push_back(std::move(v));
      }
      return boost::json::value(std::move(arr));
    }
    case YAML::NodeType::Map: {
      boost::json::object obj;
      for (const auto& kv : n) {
        if (!kv.first.IsScalar())
          return LineError(FileLine(kv.first), "mapping keys must be strings");
        const std::string& key = kv.first.Scalar();
        if (obj.contains(key)) return LineError(FileLine(kv.first), "duplicate key '" + key + "'");
        PO_ASSIGN_OR_RETURN(auto v, YamlToJson(kv.second, depth + 1, nodes));
        obj[key] = std::move(v);
      }
      return boost::json::value(std::move(obj));
    }
  }
  return boost::json::value(nullptr);
}

// A string-valued front matter field; null means "".
Result<std::string> ScalarField(const YAML::Node& n, const std::string& key) {
  if (n.IsNull()) return std::string();
  if (!n.IsScalar()) return LineError(FileLine(n), "'" + key + "' must be a string");
  return n.Scalar();
}

Result<std::vector<std::string>> StringListField(const YAML::Node& n, const std::string& key) {
  std::vector<std::string> out;
  if (n.IsNull()) return out;
  if (!n.IsSequence()) return LineError(FileLine(n), "'" + key + "' must be a list of strings");
  for (const auto& item : n) {
    if (!item.IsScalar()) {
      return LineError(FileLine(item), "'" + key + "' must be a list of strings");
    }
    out.push_back(item.Scalar());
  }
  return out;
}

Result<boost::json::object> MappingField(const YAML::Node& n, const std::string& key) {
  if (n.IsNull()) return boost::json::object();
  if (!n.IsMap()) return LineError(FileLine(n), "'" + key + "' must be a mapping");
  std::size_t nodes = 0;
  PO_ASSIGN_OR_RETURN(auto v, YamlToJson(n, 0, nodes));
  return std::move(v.as_object());
}

Status ParseFrontMatter(const std::string& yaml, PromptFile& f) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return Error::InvalidArgument("line " + std::to_string(e.mark.line + kFrontMatterFirstLine) +
                                  ", column " + std::to_string(e.mark.column + 1) +
                                  ": invalid YAML in front matter: " + e.msg);
  }
  if (root.IsNull()) return OkStatus();
  if (!root.IsMap()) return LineError(FileLine(root), "front matter must be a YAML mapping");
  std::set<std::string> seen;
  try {
    for (const auto& kv : root) {
      if (!kv.first.IsScalar()) {
        return LineError(FileLine(kv.first), "front matter keys must be strings");
      }
      const std::string key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      if (!seen.insert(key).second) {
        return LineError(FileLine(kv.first), "duplicate front matter key '" + key + "'");
      }
      if (key == "name") {
        PO_ASSIGN_OR_RETURN(f.name, ScalarField(v, key));
        if (Status s = ValidatePromptName(f.name); !s.ok()) {
          return LineError(FileLine(v), s.error().message);
        }
      } else if (key == "type") {
        PO_ASSIGN_OR_RETURN(f.type, ScalarField(v, key));
        if (f.type != "text" && f.type != "chat") {
          return LineError(FileLine(v), "unknown type '" + f.type + "'; expected 'text' or 'chat'");
        }
      } else if (key == "description") {
        PO_ASSIGN_OR_RETURN(f.description, ScalarField(v, key));
      } else if (key == "message") {
        PO_ASSIGN_OR_RETURN(f.message, ScalarField(v, key));
      } else if (key == "tags") {
        PO_ASSIGN_OR_RETURN(f.tags, StringListField(v, key));
      } else if (key == "labels") {
        PO_ASSIGN_OR_RETURN(f.labels, StringListField(v, key));
        for (const auto& l : f.labels) {
          if (Status s = ValidateLabel(l); !s.ok())
            return LineError(FileLine(v), s.error().message);
        }
      } else if (key == "config") {
        PO_ASSIGN_OR_RETURN(f.config, MappingField(v, key));
      } else if (key == "metadata") {
        PO_ASSIGN_OR_RETURN(f.metadata, MappingField(v, key));
      } else {
        return LineError(FileLine(kv.first),
                         "unknown front matter key '" + key +
                             "'; expected name, type, description, tags, labels, message, "
                             "config or metadata");
      }
    }
  } catch (const YAML::Exception& e) {
    return Error::InvalidArgument("invalid front matter: " + e.msg);
  }
  return OkStatus();
}

// ---- chat body ----

bool IsPlaceholderName(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// Parses the chat body; first_line is the file line of the body's first line.
Result<std::vector<ChatMessage>> ParseChatBody(std::string_view body, int first_line) {
  std::vector<ChatMessage> out;
  std::string content;
  bool in_section = false;
  int section_line = 0;
  auto finish = [&]() -> Status {
    if (!content.empty() && content.back() == '\n') content.pop_back();
    if (!in_section) {
      if (!IsBlank(content)) {
        return LineError(first_line,
                         "text before the first message marker; start the body with "
                         "@system, @user, @assistant or @placeholder NAME");
      }
    } else if (!out.back().placeholder.empty()) {
      if (!IsBlank(content)) {
        return LineError(section_line,
                         "a placeholder has no content; write the next marker "
                         "or escape a literal '@' as '@@'");
      }
    } else {
      out.back().content = std::move(content);
    }
    content.clear();
    return OkStatus();
  };

  std::size_t pos = 0;
  int line = first_line;
  while (pos < body.size()) {
    std::size_t nl = body.find('\n', pos);
    std::size_t end = nl == std::string_view::npos ? body.size() : nl + 1;
    std::string_view raw = body.substr(pos, end - pos);  // with its '\n', if any
    std::string_view text = raw.substr(0, raw.size() - (nl == std::string_view::npos ? 0 : 1));
    if (text.starts_with("@@")) {
      content.append(raw.substr(1));
    } else if (text.starts_with("@")) {
      ChatMessage m;
      if (text == "@system" || text == "@user" || text == "@assistant") {
        m.role = std::string(text.substr(1));
      } else if (text.starts_with("@placeholder ")) {
        std::string_view name = text.substr(std::string_view("@placeholder ").size());
        if (!IsPlaceholderName(name)) {
          return LineError(line, "placeholder name '" + std::string(name) +
                                     "' must be letters, digits, '_', '.' or '-'");
        }
        m.placeholder = std::string(name);
      } else if (text == "@placeholder") {
        return LineError(line, "'@placeholder' needs a name: '@placeholder NAME'");
      } else {
        return LineError(line, "unknown marker '" + std::string(text) +
                                   "'; expected @system, @user, @assistant or @placeholder "
                                   "NAME (write '@@' for a line starting with a literal '@')");
      }
      PO_RETURN_IF_ERROR(finish());
      out.push_back(std::move(m));
      in_section = true;
      section_line = line;
    } else {
      content.append(raw);
    }
    pos = end;
    ++line;
  }
  PO_RETURN_IF_ERROR(finish());
  return out;
}

void AppendEscaped(std::string& out, std::string_view content) {
  std::size_t pos = 0;
  while (true) {
    if (pos < content.size() && content[pos] == '@') out += '@';
    std::size_t nl = content.find('\n', pos);
    if (nl == std::string_view::npos) {
      out.append(content.substr(pos));
      break;
    }
    out.append(content.substr(pos, nl + 1 - pos));
    pos = nl + 1;
  }
}

// ---- YAML emission ----

// Plain scalars that YAML 1.1 readers (PyYAML, older tools) would take for booleans or
// numbers (hex, octal, 1_000, 1:30); quoted so the files mean the same everywhere.
bool IsYaml11Ambiguous(std::string_view s) {
  static const std::regex re(
      "y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|[-+]?0[xXoObB][0-9a-fA-F_]+|"
      "[-+]?\\.?[0-9][0-9_:.eE+-]*");
  return std::regex_match(s.begin(), s.end(), re);
}

// Strings that a reader would not read back as the same string unquoted get double quotes.
void EmitString(YAML::Emitter& out, const std::string& s) {
  if (s.empty() || ResolvePlain(s) != ScalarKind::kString || IsYaml11Ambiguous(s)) {
    out << YAML::DoubleQuoted << s;
  } else {
    out << s;
  }
}

std::string DoubleText(double d) {
  if (std::isnan(d)) return ".nan";
  if (std::isinf(d)) return d > 0 ? ".inf" : "-.inf";
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, d);
  std::string s(buf, ptr);
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";  // keep it a float on re-read
  return s;
}

void EmitJson(YAML::Emitter& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      out << YAML::Null;
      break;
    case boost::json::kind::bool_:
      out << v.get_bool();
      break;
    case boost::json::kind::int64:
      out << static_cast<long long>(v.get_int64());
      break;
    case boost::json::kind::uint64:
      out << static_cast<unsigned long long>(v.get_uint64());
      break;
    case boost::json::kind::double_:
      out << DoubleText(v.get_double());
      break;
    case boost::json::kind::string:
      EmitString(out, std::string(v.get_string()));
      break;
    case boost::json::kind::array:
      out << YAML::BeginSeq;
      for (const auto& item : v.get_array()) EmitJson(out, item);
      out << YAML::EndSeq;
      break;
    case boost::json::kind::object:
      out << YAML::BeginMap;
      for (const auto& kv : v.get_object()) {
        out << YAML::Key;
        EmitString(out, std::string(kv.key()));
        out << YAML::Value;
        EmitJson(out, kv.value());
      }
      out << YAML::EndMap;
      break;
  }
}

void EmitStringList(YAML::Emitter& out, const char* key, const std::vector<std::string>& items) {
  if (items.empty()) return;
  out << YAML::Key << key << YAML::Value << YAML::BeginSeq;
  for (const auto& s : items) EmitString(out, s);
  out << YAML::EndSeq;
}

// ---- files ----

Result<std::string> ReadWholeFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return Error::Internal(p.string() + ": cannot open for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Error::Internal(p.string() + ": read failed");
  return ss.str();
}

Error Prefixed(const fs::path& file, const Error& e) {
  return {e.code, file.generic_string() + ": " + e.message};
}

}  // namespace

Result<PromptFile> ParsePromptFile(std::string_view content) {
  if (!utf8::IsValid(content)) return Error::InvalidArgument("prompt file is not valid UTF-8");
  if (!(content == "---" || content.starts_with("---\n"))) {
    return LineError(1, "a prompt file must start with a '---' line opening the YAML front matter");
  }
  // Find the closing "---" line.
  std::size_t pos = std::min<std::size_t>(4, content.size());
  int line = 2;
  std::size_t close = std::string_view::npos, body_start = 0;
  while (pos < content.size()) {
    std::size_t nl = content.find('\n', pos);
    std::size_t end = nl == std::string_view::npos ? content.size() : nl;
    if (content.substr(pos, end - pos) == "---") {
      close = pos;
      body_start = nl == std::string_view::npos ? content.size() : nl + 1;
      break;
    }
    pos = nl == std::string_view::npos ? content.size() : nl + 1;
    ++line;
  }
  if (close == std::string_view::npos) {
    return LineError(1, "front matter opened here has no closing '---' line");
  }
  PromptFile f;
  std::string yaml(content.substr(std::min<std::size_t>(4, content.size()),
                                  close - std::min<std::size_t>(4, close)));
  PO_RETURN_IF_ERROR(ParseFrontMatter(yaml, f));
  std::string_view body = content.substr(body_start);
  if (f.type == "chat") {
    PO_ASSIGN_OR_RETURN(f.messages, ParseChatBody(body, line + 1));
  } else {
    f.text = std::string(body);
  }
  return f;
}

std::string FormatPromptFile(const PromptFile& f) {
  YAML::Emitter out;
  out.SetOutputCharset(YAML::EmitNonAscii);
  out << YAML::BeginMap;
  if (!f.name.empty()) {
    out << YAML::Key << "name" << YAML::Value;
    EmitString(out, f.name);
  }
  out << YAML::Key << "type" << YAML::Value;
  EmitString(out, f.type);
  if (!f.description.empty()) {
    out << YAML::Key << "description" << YAML::Value;
    EmitString(out, f.description);
  }
  EmitStringList(out, "tags", f.tags);
  EmitStringList(out, "labels", f.labels);
  if (!f.message.empty()) {
    out << YAML::Key << "message" << YAML::Value;
    EmitString(out, f.message);
  }
  if (!f.config.empty()) {
    out << YAML::Key << "config" << YAML::Value;
    EmitJson(out, f.config);
  }
  if (!f.metadata.empty()) {
    out << YAML::Key << "metadata" << YAML::Value;
    EmitJson(out, f.metadata);
  }
  out << YAML::EndMap;

  std::string s = "---\n";
  s += out.c_str();
  s += "\n---\n";
  if (f.type == "chat") {
    for (const ChatMessage& m : f.messages) {
      if (!m.placeholder.empty()) {
        s += "@placeholder " + m.placeholder + "\n";
        continue;
      }
      s += "@" + m.role + "\n";
      AppendEscaped(s, m.content);
      s += "\n";
    }
  } else {
    s += f.text;
  }
  return s;
}

Result<std::vector<PromptFile>> ReadPromptDir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Error::NotFound(dir.string() + " is not a directory");
  }
  std::vector<PromptFile> files;
  std::vector<fs::path> paths;
  fs::recursive_directory_iterator it(dir, ec), end;
  if (ec) return Error::Internal(dir.string() + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return Error::Internal(dir.string() + ": " + ec.message());
    if (!it->is_regular_file(ec)) continue;
    if (it->path().extension() != kPromptFileExtension) continue;
    paths.push_back(it->path());
  }
  if (ec) return Error::Internal(dir.string() + ": " + ec.message());
  for (const fs::path& p : paths) {
    fs::path rel = p.lexically_relative(dir);
    std::string derived = rel.generic_string();
    derived.resize(derived.size() - kPromptFileExtension.size());
    if (Status s = ValidatePromptName(derived); !s.ok()) return Prefixed(rel, s.error());
    PO_ASSIGN_OR_RETURN(std::string content, ReadWholeFile(p));
    Result<PromptFile> f = ParsePromptFile(content);
    if (!f.ok()) return Prefixed(rel, f.error());
    if (f->name.empty()) {
      f->name = derived;
    } else if (f->name != derived) {
      return Prefixed(rel, Error::InvalidArgument("front matter name '" + f->name +
                                                  "' does not match the file's path; expected '" +
                                                  derived + "' (or no name)"));
    }
    files.push_back(std::move(f).value());
  }
  std::sort(files.begin(), files.end(),
            [](const PromptFile& a, const PromptFile& b) { return a.name < b.name; });
  return files;
}

Status WritePromptDir(const fs::path& dir, const std::vector<PromptFile>& files) {
  std::set<std::string> names;
  for (const PromptFile& f : files) {
    if (Status s = ValidatePromptName(f.name); !s.ok()) return s;
    if (!names.insert(f.name).second) {
      return Error::InvalidArgument("prompt name '" + f.name + "' appears twice");
    }
    // Valid names have no "..", no leading '/' and no '\\'; check anyway, the cost is nil.
    fs::path rel = fs::path(f.name + std::string(kPromptFileExtension)).lexically_normal();
    if (rel.is_absolute() || rel.empty() || *rel.begin() == "..") {
      return Error::InvalidArgument("prompt name '" + f.name + "' would escape the directory");
    }
  }
  static std::atomic<uint64_t> counter{0};
  for (const PromptFile& f : files) {
    fs::path target = dir / fs::path(f.name + std::string(kPromptFileExtension));
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec) return Error::Internal(target.parent_path().string() + ": " + ec.message());
    fs::path tmp = target;
    tmp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) return Error::Internal(tmp.string() + ": cannot open for writing");
      out << FormatPromptFile(f);
      out.flush();
      if (!out) {
        fs::remove(tmp, ec);
        return Error::Internal(tmp.string() + ": write failed");
      }
    }
    fs::rename(tmp, target, ec);
    if (ec) {
      std::error_code ignored;
      fs::remove(tmp, ignored);
      return Error::Internal(target.string() + ": " + ec.message());
    }
  }
  return OkStatus();
}

}  // namespace promptops::registry
