// Parse tree -> AST. ANTLR does the parsing; this file turns its contexts into
// AST nodes with byte ranges, collects syntax errors as diagnostics, attaches
// comments for the formatter, and refuses input nested deeper than the limits
// before ANTLR's recursion or any later walk could exhaust the stack. No ANTLR
// exception leaves this file.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>

#include "PolicyLexer.h"
#include "PolicyParser.h"
#include "antlr4-runtime.h"
#include "engine/compiler/ast.h"
#include "engine/compiler/types.h"

namespace gavel {

namespace {

using gavel_grammar::PolicyLexer;
using gavel_grammar::PolicyParser;
using P = gavel_grammar::PolicyParser;

// ANTLR decodes its input to code points, so a token's start and stop
// indexes count code points; diagnostics, the AST and every later stage count
// bytes. TokenPlaces maps one to the other for the text ANTLR was given, then
// shifts by `base` (where that text sits in the policy source).
class TokenPlaces {
 public:
  TokenPlaces(const std::string& text, uint32_t base) : base_(base) {
    bool ascii = true;
    for (char c : text) ascii &= (static_cast<unsigned char>(c) & 0x80) == 0;
    if (ascii) return;  // one byte per code point: the indexes are offsets
    byte_of_.reserve(text.size() + 1);
    for (uint32_t i = 0; i < text.size(); ++i)
      if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) byte_of_.push_back(i);
    byte_of_.push_back(static_cast<uint32_t>(text.size()));
  }
  uint32_t base() const { return base_; }
  // The byte offset of code point `index`; past the end maps to the end.
  uint32_t Byte(size_t index) const {
    if (byte_of_.empty()) return static_cast<uint32_t>(index) + base_;
    return byte_of_[std::min(index, byte_of_.size() - 1)] + base_;
  }

 private:
  uint32_t base_;
  std::vector<uint32_t> byte_of_;  // empty for ASCII text
};

SourceRange TokRange(antlr4::Token* t, const TokenPlaces& at) {
  if (!t) return {at.base(), at.base()};
  // EOF has a stop index before its start index.
  const uint32_t b = at.Byte(t->getStartIndex());
  if (t->getStopIndex() == static_cast<size_t>(-1) || t->getStopIndex() < t->getStartIndex()) return {b, b};
  const uint32_t e = at.Byte(t->getStopIndex() + 1);
  return {b, e < b ? b : e};
}

// The keyword `word` is most likely a misspelling of: at most one edit in
// three characters (`denny`, `rulle`, `pacakge`), and never for words so short
// that any keyword is near them.
std::string ClosestKeyword(const std::string& word, const std::vector<std::string>& keywords) {
  if (word.size() < 3) return "";
  std::string best;
  size_t best_d = std::max<size_t>(1, word.size() / 3) + 1;
  for (const std::string& k : keywords) {
    const size_t d = EditDistance(word, k);
    if (d < best_d && d > 0) {
      best_d = d;
      best = k;
    }
  }
  return best;
}

// The one wording for expressions over the depth limit, wherever it is caught.
std::string TooDeepMessage(int max_depth) {
  return "expression nested deeper than " + std::to_string(max_depth) +
         " levels (every operator, [index], .member, call, bracket and quantifier adds one)";
}

class ErrorCollector : public antlr4::BaseErrorListener {
 public:
  ErrorCollector(Diagnostics* diags, const TokenPlaces& at) : diags_(diags), at_(at) {}
  void syntaxError(antlr4::Recognizer* recognizer, antlr4::Token* offending, size_t, size_t, const std::string& msg,
                   std::exception_ptr) override {
    ++count_;
    diags_->Error(Err::kSyntax, Where(offending),
                  "syntax error: " + Friendly(msg) + Hint(dynamic_cast<antlr4::Parser*>(recognizer), offending));
  }
  int count() const { return count_; }

 private:
  SourceRange Where(antlr4::Token* offending) const {
    SourceRange r = offending ? TokRange(offending, at_) : SourceRange{at_.base(), at_.base() + 1};
    if (offending && offending->getType() == antlr4::Token::EOF) r.end = r.begin;
    return r;
  }

  // What an author used to another language most likely meant: `=` for `==`,
  // or a keyword spelled slightly wrong (`denny`): first among the keywords
  // the parser expects here, then among all of them, since after a complete
  // expression or effect ANTLR expects only what closes the declaration
  // (`anf` for `and`, `statuss` for `status`).
  static std::string Hint(antlr4::Parser* parser, antlr4::Token* offending) {
    if (!offending) return "";
    const std::string text = offending->getText();
    if (text == "=") return " (did you mean '=='?)";
    if (!parser || offending->getType() != PolicyLexer::IDENT) return "";
    const antlr4::dfa::Vocabulary& vocabulary = parser->getVocabulary();
    auto keyword = [&](size_t type, std::vector<std::string>* out) {
      const std::string lit = vocabulary.getLiteralName(type);
      if (lit.size() > 2 && std::isalpha(static_cast<unsigned char>(lit[1])))
        out->push_back(lit.substr(1, lit.size() - 2));
    };
    std::vector<std::string> expected;
    try {
      for (size_t type : parser->getExpectedTokens().toList()) keyword(type, &expected);
    } catch (const std::exception&) {
      expected.clear();  // no expectation to compare with: all keywords below
    }
    // An unexpected name after an operand is most often a misspelled infix
    // operator: those win ties (`anf` is one edit from `and` and `any`).
    std::vector<std::string> all = {"and", "or", "in", "contains", "matches", "startswith", "endswith"};
    for (size_t type = 1; type <= vocabulary.getMaxTokenType(); ++type) keyword(type, &all);
    std::string best = ClosestKeyword(text, expected);
    if (best.empty()) best = ClosestKeyword(text, all);
    return best.empty() ? "" : " (did you mean '" + best + "'?)";
  }

  // ANTLR's messages name grammar tokens; policy authors see plain words.
  static std::string Friendly(const std::string& msg) {
    std::string m = msg;
    auto replace_all = [](std::string* s, const std::string& from, const std::string& to) {
      for (size_t p = s->find(from); p != std::string::npos; p = s->find(from, p + to.size()))
        s->replace(p, from.size(), to);
    };
    // Token names appear only in ANTLR's own words, never inside quoted input.
    auto words = [&](std::string s) {
      replace_all(&s, "STRING", "a string");
      replace_all(&s, "INT", "a number");
      replace_all(&s, "IDENT", "a name");
      replace_all(&s, "DURATION", "a duration");
      replace_all(&s, "REGEX", "a /regex/");
      return s;
    };
    replace_all(&m, "'<EOF>'", "end of file");
    replace_all(&m, "<EOF>", "end of file");
    std::string expecting;
    size_t ex = m.find(" expecting ");
    if (ex != std::string::npos) {
      expecting = m.substr(ex + 11);
      m = m.substr(0, ex);
      // Past a handful of alternatives the list helps nobody.
      if (std::count(expecting.begin(), expecting.end(), ',') > 5) expecting.clear();
    }
    for (const char* prefix : {"mismatched input ", "extraneous input "})
      if (m.rfind(prefix, 0) == 0) m = "unexpected " + m.substr(std::strlen(prefix));
    if (m.rfind("no viable alternative at input ", 0) == 0) m = "cannot parse " + m.substr(31);
    if (m.rfind("token recognition error at: ", 0) == 0) m = "unexpected character " + m.substr(28);
    if (m.rfind("missing ", 0) == 0) {
      size_t at = m.find(" at ");
      std::string what = m.substr(8, at == std::string::npos ? std::string::npos : at - 8);
      m = "missing " + words(what) + (at == std::string::npos ? "" : " before " + m.substr(at + 4));
    }
    if (!expecting.empty()) m += ", expected " + words(expecting);
    return m;
  }

 private:
  Diagnostics* diags_;
  const TokenPlaces& at_;
  int count_ = 0;
};

}  // namespace

bool UnescapeLiteral(const std::string& raw, std::string* out, std::string* why) {
  out->clear();
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c != '\\') {
      *out += c;
      continue;
    }
    if (++i == raw.size()) {
      *why = "a string ends in a lone backslash";
      return false;
    }
    char n = raw[i];
    switch (n) {
      case 'n':
        *out += '\n';
        break;
      case 't':
        *out += '\t';
        break;
      case 'r':
        *out += '\r';
        break;
      case '"':
        *out += '"';
        break;
      case '\\':
        *out += '\\';
        break;
      case '$':
        *out += '$';
        break;
      case '/':
        *out += '/';
        break;
      case 'u': {
        if (i + 4 >= raw.size()) {
          *why = "\\u needs four hex digits";
          return false;
        }
        std::string hex = raw.substr(i + 1, 4);
        char* end = nullptr;
        long cp = std::strtol(hex.c_str(), &end, 16);
        if (hex.size() != 4 || *end != '\0' || (cp >= 0xD800 && cp <= 0xDFFF)) {
          *why = "\\u needs four hex digits of a non-surrogate code point";
          return false;
        }
        i += 4;
        if (cp < 0x80) {
          *out += static_cast<char>(cp);
        } else if (cp < 0x800) {
          *out += static_cast<char>(0xC0 | (cp >> 6));
          *out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
          *out += static_cast<char>(0xE0 | (cp >> 12));
          *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
          *out += static_cast<char>(0x80 | (cp & 0x3F));
        }
        break;
      }
      default:
        *why = std::string("unknown escape \\") + n;
        return false;
    }
  }
  return true;
}

namespace {

class Builder {
 public:
  Builder(Diagnostics* diags, const TokenPlaces& at, int max_depth) : diags_(diags), at_(at), max_depth_(max_depth) {}

  SourceRange Range(antlr4::ParserRuleContext* ctx) {
    if (!ctx) return {at_.base(), at_.base()};
    SourceRange b = TokRange(ctx->getStart(), at_);
    antlr4::Token* stop = ctx->getStop();
    if (stop && stop->getType() != antlr4::Token::EOF && stop->getTokenIndex() >= ctx->getStart()->getTokenIndex())
      b.end = TokRange(stop, at_).end;
    return b;
  }

  std::string Name(P::NameContext* n) { return n ? n->getText() : std::string(); }

  std::string Dotted(P::DottedNameContext* d) { return d ? d->getText() : std::string(); }

  std::string StringValue(antlr4::tree::TerminalNode* t) {
    if (!t) return {};
    std::string out, why;
    const std::string raw = t->getText();  // with its quotes
    if (!UnescapeLiteral(raw.substr(1, raw.size() - 2), &out, &why))
      diags_->Error(Err::kBadEscape, TokRange(t->getSymbol(), at_), why);
    return out;
  }

  ExprPtr MakeExpr(ExprKind k, antlr4::ParserRuleContext* ctx) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->range = Range(ctx);
    return e;
  }

  // Every expression node, bracketed or not, is built through here, so the
  // depth of every tree this builder returns, and of every recursive walk over
  // it later (checker, folding, codegen, formatter), is bounded by max_depth_.
  ExprPtr Build(P::ExprContext* ctx) {
    if (!ctx) return Missing();
    if (depth_ >= max_depth_) {
      if (!reported_too_deep_) diags_->Error(Err::kTooDeep, TokRange(ctx->getStart(), at_), TooDeepMessage(max_depth_));
      reported_too_deep_ = true;
      return Missing(ctx);
    }
    ++depth_;
    ExprPtr e = BuildNode(ctx);
    --depth_;
    return e;
  }

  ExprPtr BuildNode(P::ExprContext* ctx) {
    if (auto* c = dynamic_cast<P::PrimaryExprContext*>(ctx)) return Primary(c->primary());
    if (auto* c = dynamic_cast<P::MemberExprContext*>(ctx)) {
      auto e = MakeExpr(ExprKind::kMember, ctx);
      e->kids.push_back(Build(c->expr()));
      e->text = c->memberName() ? c->memberName()->getText() : std::string();
      return e;
    }
    if (auto* c = dynamic_cast<P::IndexExprContext*>(ctx)) {
      auto e = MakeExpr(ExprKind::kIndex, ctx);
      e->kids.push_back(Build(c->expr(0)));
      e->kids.push_back(Build(c->expr(1)));
      return e;
    }
    if (auto* c = dynamic_cast<P::NegExprContext*>(ctx)) {
      auto e = MakeExpr(ExprKind::kNeg, ctx);
      e->kids.push_back(Build(c->expr()));
      return e;
    }
    if (auto* c = dynamic_cast<P::NotExprContext*>(ctx)) {
      auto e = MakeExpr(ExprKind::kNot, ctx);
      e->kids.push_back(Build(c->expr()));
      return e;
    }
    if (auto* c = dynamic_cast<P::QuantExprContext*>(ctx)) {
      auto e = MakeExpr(ExprKind::kQuant, ctx);
      e->op = c->quant ? c->quant->getText() : "any";
      e->text = Name(c->name());
      e->kids.push_back(Build(c->expr(0)));
      e->kids.push_back(Build(c->expr(1)));
      return e;
    }
    antlr4::Token* op = nullptr;
    std::vector<P::ExprContext*> kids;
    bool negated = false;
    std::string opname;
    if (auto* c = dynamic_cast<P::MulExprContext*>(ctx))
      op = c->op, kids = c->expr();
    else if (auto* c = dynamic_cast<P::AddExprContext*>(ctx))
      op = c->op, kids = c->expr();
    else if (auto* c = dynamic_cast<P::RelExprContext*>(ctx))
      op = c->op, kids = c->expr();
    else if (auto* c = dynamic_cast<P::EqExprContext*>(ctx))
      op = c->op, kids = c->expr();
    else if (auto* c = dynamic_cast<P::MemberOpExprContext*>(ctx))
      op = c->op, kids = c->expr(), negated = c->NOT() != nullptr;
    else if (auto* c = dynamic_cast<P::AndExprContext*>(ctx))
      opname = "and", kids = c->expr();
    else if (auto* c = dynamic_cast<P::OrExprContext*>(ctx))
      opname = "or", kids = c->expr();
    if (kids.size() == 2) {
      auto e = MakeExpr(ExprKind::kBinary, ctx);
      e->op = op ? op->getText() : opname;
      if (negated) e->op = "not " + e->op;
      e->kids.push_back(Build(kids[0]));
      e->kids.push_back(Build(kids[1]));
      return e;
    }
    return Missing(ctx);
  }

  ExprPtr Missing(antlr4::ParserRuleContext* ctx = nullptr) {
    // Only reached after a syntax error, which is already reported.
    auto e = std::make_unique<Expr>();
    e->kind = ExprKind::kBool;
    e->raw = "false";
    if (ctx) e->range = Range(ctx);
    return e;
  }

  ExprPtr Primary(P::PrimaryContext* ctx) {
    if (!ctx) return Missing();
    if (auto* c = dynamic_cast<P::IntLitContext*>(ctx)) {
      auto e = MakeExpr(ExprKind::kInt, ctx);
      e->raw = c->getText();
      errno = 0;
      char* end = nullptr;
      unsigned long long v = std::strtoull(e->raw.c_str(), &end, 10);
      if (errno != 0 || v > static_cast<unsigned long long>(INT64_MAX))
        diags_->Error(Err::kLiteralRange, e->range, "integer literal out of range");
      e->ival = static_cast<int64_t>(v);
      return e;
    }
    if (auto* c = dynamic_cast<P::FloatLitContext*>(ctx)) {
      auto e = MakeExpr(ExprKind::kFloat, ctx);
      e->raw = c->getText();
      e->fval = std::strtod(e->raw.c_str(), nullptr);
      if (!std::isfinite(e->fval)) diags_->Error(Err::kLiteralRange, e->range, "float literal out of range");
      return e;
    }
    if (auto* c = dynamic_cast<P::StringLitContext*>(ctx)) {
      auto e = MakeExpr(ExprKind::kString, ctx);
      e->raw = c->getText();
      e->text = StringValue(c->STRING());
      return e;
    }
    if (auto* c = dynamic_cast<P::RegexLitContext*>(ctx)) {
      auto e = MakeExpr(ExprKind::kRegex, ctx);
      e->raw = c->getText();
      e->text = e->raw.substr(1, e->raw.size() - 2);
      return e;
    }
    if (auto* c = dynamic_cast<P::DurationLitContext*>(ctx)) {
      auto e = MakeExpr(ExprKind::kDuration, ctx);
      e->raw = c->getText();
      size_t i = 0;
      while (i < e->raw.size() && isdigit(static_cast<unsigned char>(e->raw[i]))) ++i;
      std::string unit = e->raw.substr(i);
      int64_t mul = unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60000 : unit == "h" ? 3600000 : 86400000;
      errno = 0;
      unsigned long long n = std::strtoull(e->raw.substr(0, i).c_str(), nullptr, 10);
      if (errno != 0 || n > static_cast<unsigned long long>(INT64_MAX / mul))
        diags_->Error(Err::kLiteralRange, e->range, "duration literal out of range");
      e->ival = static_cast<int64_t>(n) * mul;
      return e;
    }
    if (auto* c = dynamic_cast<P::BoolLitContext*>(ctx)) {
      auto e = MakeExpr(ExprKind::kBool, ctx);
      e->bval = c->getText() == "true";
      e->raw = e->bval ? "true" : "false";
      return e;
    }
    if (auto* c = dynamic_cast<P::CallExprContext*>(ctx)) {
      auto e = MakeExpr(ExprKind::kCall, ctx);
      e->text = Name(c->name());
      for (auto* a : c->expr()) e->kids.push_back(Build(a));
      return e;
    }
    if (auto* c = dynamic_cast<P::IdentExprContext*>(ctx)) {
      auto e = MakeExpr(ExprKind::kIdent, ctx);
      e->text = Name(c->name());
      return e;
    }
    if (auto* c = dynamic_cast<P::ParenExprContext*>(ctx)) {
      ExprPtr inner = Build(c->expr());
      inner->parens = true;
      inner->range = Range(ctx);
      return inner;
    }
    if (dynamic_cast<P::EmptyBracesContext*>(ctx)) return MakeExpr(ExprKind::kSet, ctx);
    if (auto* c = dynamic_cast<P::SetLitContext*>(ctx)) {
      auto e = MakeExpr(ExprKind::kSet, ctx);
      for (auto* a : c->expr()) e->kids.push_back(Build(a));
      return e;
    }
    if (auto* c = dynamic_cast<P::ListLitContext*>(ctx)) {
      auto e = MakeExpr(ExprKind::kList, ctx);
      for (auto* a : c->expr()) e->kids.push_back(Build(a));
      return e;
    }
    if (auto* c = dynamic_cast<P::MapLitContext*>(ctx)) {
      auto e = MakeExpr(ExprKind::kMap, ctx);
      for (auto* m : c->mapEntry()) {
        if (m->STRING()) {
          e->keys.push_back(StringValue(m->STRING()));
          e->key_quoted.push_back(true);
        } else {
          e->keys.push_back(Name(m->name()));
          e->key_quoted.push_back(false);
        }
        e->kids.push_back(Build(m->expr()));
      }
      return e;
    }
    return Missing(ctx);
  }

  PatternItem Item(P::PatternItemContext* c) {
    PatternItem it;
    it.range = Range(c);
    if (c->REGEX()) {
      it.regex = true;
      it.raw = c->REGEX()->getText();
      it.text = it.raw.substr(1, it.raw.size() - 2);
    } else if (c->STRING()) {
      it.raw = c->STRING()->getText();
      it.text = StringValue(c->STRING());
    }
    for (auto* f : c->patternFlag()) it.flags.push_back(Name(f->name()));
    return it;
  }

  TypeAst TypeOf(P::TypeRefContext* c) {
    TypeAst t;
    if (!c) return t;
    t.range = Range(c);
    if (auto* s = dynamic_cast<P::SimpleTypeContext*>(c)) {
      t.name = Name(s->name());
    } else if (auto* g = dynamic_cast<P::GenericTypeContext*>(c)) {
      t.name = Name(g->name());
      for (auto* a : g->typeRef()) t.args.push_back(TypeOf(a));
    }
    return t;
  }

  void BuildEffect(P::EffectContext* c, EffectAst* ef) {
    if (!c) return;
    ef->range = Range(c);
    auto opts = [&](const std::vector<P::EffectOptContext*>& v) {
      for (auto* o : v) {
        if (auto* code = dynamic_cast<P::CodeOptContext*>(o)) {
          if (ef->has_code) diags_->Error(Err::kOptionTwice, Range(o), "code given twice");
          ef->has_code = true;
          ef->code = StringValue(code->STRING());
          ef->code_range = Range(o);
        } else if (auto* st = dynamic_cast<P::StatusOptContext*>(o)) {
          if (ef->has_status) diags_->Error(Err::kOptionTwice, Range(o), "status given twice");
          ef->has_status = true;
          ef->status = std::strtoll(st->INT()->getText().c_str(), nullptr, 10);
          ef->status_range = Range(o);
        }
      }
    };
    if (auto* d = dynamic_cast<P::DenyEffectContext*>(c)) {
      ef->kind = EffectKind::kDeny;
      if (d->expr()) ef->message = Build(d->expr());
      opts(d->effectOpt());
    } else if (auto* a = dynamic_cast<P::AllowEffectContext*>(c)) {
      ef->kind = EffectKind::kAllow;
      if (a->expr()) ef->message = Build(a->expr());
    } else if (auto* r = dynamic_cast<P::RouteEffectContext*>(c)) {
      ef->kind = EffectKind::kRoute;
      ef->message = Build(r->expr());
    } else if (auto* f = dynamic_cast<P::FlagEffectContext*>(c)) {
      ef->kind = EffectKind::kFlag;
      if (f->expr()) ef->message = Build(f->expr());
      opts(f->effectOpt());
    } else if (auto* rd = dynamic_cast<P::RedactEffectContext*>(c)) {
      ef->kind = EffectKind::kRedact;
      for (auto* q : rd->qualifiedRef()) ef->redact_sets.emplace_back(q->getText(), Range(q));
      auto ex = rd->expr();
      if (ex.size() == 2) {
        ef->message = Build(ex[0]);
        ef->redact_with = Build(ex[1]);
      }
    }
  }

  void BuildDecl(P::DeclContext* ctx, Decl* d) {
    d->range = Range(ctx);
    reported_too_deep_ = false;
    if (auto* c = dynamic_cast<P::PackageDeclContext*>(ctx)) {
      d->kind = DeclKind::kPackage;
      d->name = Dotted(c->dottedName());
      d->name_range = Range(c->dottedName());
    } else if (auto* c = dynamic_cast<P::VersionDeclContext*>(ctx)) {
      d->kind = DeclKind::kVersion;
      d->raw = c->STRING() ? c->STRING()->getText() : "\"\"";
      d->value = StringValue(c->STRING());
    } else if (auto* c = dynamic_cast<P::DefaultDeclContext*>(ctx)) {
      d->kind = DeclKind::kDefault;
      d->value = c->ALLOW() ? "allow" : "deny";
    } else if (auto* c = dynamic_cast<P::OnErrorDeclContext*>(ctx)) {
      d->kind = DeclKind::kOnError;
      d->value = c->DENY() ? "deny" : "skip";
    } else if (auto* c = dynamic_cast<P::ImportDeclContext*>(ctx)) {
      d->kind = DeclKind::kImport;
      d->name = Dotted(c->dottedName());
      d->name_range = Range(c->dottedName());
    } else if (auto* c = dynamic_cast<P::SchemaDeclContext*>(ctx)) {
      d->kind = DeclKind::kSchema;
      d->name = Name(c->name());
      d->name_range = Range(c->name());
      for (auto* f : c->schemaField()) {
        SchemaField sf;
        sf.name = Name(f->name());
        sf.range = Range(f);
        sf.type = TypeOf(f->typeRef());
        if (f->expr()) sf.default_value = Build(f->expr());
        field_tokens_.push_back({f->getStart()->getTokenIndex(), f->getStop() ? f->getStop()->getTokenIndex() : 0});
        d->fields.push_back(std::move(sf));
      }
    } else if (auto* c = dynamic_cast<P::ConstDeclContext*>(ctx)) {
      d->kind = DeclKind::kConst;
      d->name = Name(c->name());
      d->name_range = Range(c->name());
      d->expr = Build(c->expr());
    } else if (auto* c = dynamic_cast<P::PatternDeclContext*>(ctx)) {
      d->kind = DeclKind::kPattern;
      d->name = Name(c->name());
      d->name_range = Range(c->name());
      for (auto* f : c->patternFlag()) d->flags.push_back(Name(f->name()));
      if (c->patternItem()) d->items.push_back(Item(c->patternItem()));
    } else if (auto* c = dynamic_cast<P::PatternsDeclContext*>(ctx)) {
      d->kind = DeclKind::kPatterns;
      d->name = Name(c->name());
      d->name_range = Range(c->name());
      for (auto* f : c->patternFlag()) d->flags.push_back(Name(f->name()));
      for (auto* it : c->patternItem()) {
        d->items.push_back(Item(it));
        field_tokens_.push_back({it->getStart()->getTokenIndex(), it->getStop() ? it->getStop()->getTokenIndex() : 0});
      }
    } else if (auto* c = dynamic_cast<P::RuleDeclContext*>(ctx)) {
      d->kind = DeclKind::kRule;
      auto names = c->name();
      if (!names.empty()) {
        d->name = Name(names[0]);
        d->name_range = Range(names[0]);
      }
      if (names.size() > 1) {
        d->value = Name(names[1]);
        d->window_range = Range(names[1]);
      }
      if (c->expr()) d->expr = Build(c->expr());
      BuildEffect(c->effect(), &d->effect);
    } else if (auto* c = dynamic_cast<P::LimitDeclContext*>(ctx)) {
      d->kind = DeclKind::kLimit;
      d->name = Name(c->name());
      d->name_range = Range(c->name());
      if (auto* b = c->limitBody()) {
        auto ex = b->expr();
        // The grammar puts the optional `when` condition last among the exprs.
        const bool has_when = HasWhen(b);
        size_t nper = has_when ? ex.size() - 1 : ex.size();
        for (size_t i = 0; i < nper; ++i) d->per.push_back(Build(ex[i]));
        if (has_when && !ex.empty()) d->when = Build(ex.back());
        if (b->INT()) d->amount = std::strtoll(b->INT()->getText().c_str(), nullptr, 10);
        auto names = b->name();
        if (!names.empty()) {
          d->unit = Name(names[0]);
          d->unit_range = Range(names[0]);
        }
        if (b->DURATION()) {
          d->window = b->DURATION()->getText();
          d->window_range = TokRange(b->DURATION()->getSymbol(), at_);
        } else if (names.size() > 1) {
          d->window = Name(names[1]);
          d->window_range = Range(names[1]);
        }
      }
    } else if (auto* c = dynamic_cast<P::BudgetDeclContext*>(ctx)) {
      d->kind = DeclKind::kBudget;
      d->name = Name(c->name());
      d->name_range = Range(c->name());
      for (auto* bc : c->budgetClause()) {
        BudgetClause cl;
        cl.range = Range(bc);
        if (auto* x = dynamic_cast<P::BudgetPerContext*>(bc)) {
          cl.kind = BudgetClause::kPer;
          for (auto* e : x->expr()) cl.exprs.push_back(Build(e));
        } else if (auto* x = dynamic_cast<P::BudgetAmountContext*>(bc)) {
          cl.kind = BudgetClause::kAmount;
          cl.exprs.push_back(Build(x->expr()));
          cl.word = Name(x->name());
        } else if (auto* x = dynamic_cast<P::BudgetPricesContext*>(bc)) {
          cl.kind = BudgetClause::kPrices;
          cl.exprs.push_back(Build(x->expr()));
        } else if (auto* x = dynamic_cast<P::BudgetWarnContext*>(bc)) {
          cl.kind = BudgetClause::kWarn;
          cl.percent = x->INT() ? std::strtoll(x->INT()->getText().c_str(), nullptr, 10) : 0;
        } else if (auto* x = dynamic_cast<P::BudgetWhenContext*>(bc)) {
          cl.kind = BudgetClause::kWhen;
          cl.exprs.push_back(Build(x->expr()));
        }
        d->clauses.push_back(std::move(cl));
      }
    }
  }

  static bool HasWhen(P::LimitBodyContext* b) {
    for (auto* ch : b->children)
      if (auto* t = dynamic_cast<antlr4::tree::TerminalNode*>(ch))
        if (t->getText() == "when") return true;
    return false;
  }

  // Token index ranges of the children (schema fields, pattern items) of the
  // declaration being built, for attaching comments.
  std::vector<std::pair<size_t, size_t>> field_tokens_;

 private:
  Diagnostics* diags_;
  const TokenPlaces& at_;
  int max_depth_;
  int depth_ = 0;
  bool reported_too_deep_ = false;  // once per declaration: one chain, one error
};

// True for a token after which an expression may go on only through an
// infix or postfix operator: a literal, a name (`any` and `all` are names
// after a dot), a closing bracket.
bool EndsOperand(antlr4::Token* t, bool after_dot) {
  switch (t->getType()) {
    case PolicyLexer::INT:
    case PolicyLexer::FLOAT:
    case PolicyLexer::STRING:
    case PolicyLexer::REGEX:
    case PolicyLexer::DURATION:
    case PolicyLexer::IDENT:
      return true;
    default:
      break;
  }
  const std::string text = t->getText();
  if (text == ")" || text == "]" || text == "}") return true;
  static const char* const kOperatorWords[] = {"and",     "or",         "not",      "in",  "contains",
                                               "matches", "startswith", "endswith", "any", "all"};
  if (text.empty() || !std::isalpha(static_cast<unsigned char>(text[0]))) return false;
  if (after_dot) return true;
  for (const char* w : kOperatorWords)
    if (text == w) return false;
  return true;  // a keyword that may also be a name, or true/false
}

// Refuses input whose bracket nesting, prefix-operator chains or operator
// count per declaration exceed the limits, and reports characters no token
// accepts, before ANTLR sees it. A token after an operand that is neither an
// operand itself (a pattern list, an effect's options) nor a separator is an
// infix or postfix operator, so the count needs no list of operators. The
// count bounds ANTLR's work: the grammar lets a budget's amount clause start
// right after a `per` expression, so at every `[` and binary `-` ANTLR looks
// ahead over the rest of the declaration, and n of them cost n^2. Depth is
// bounded later, where it is exact: by DepthGuardedParser while ANTLR
// recurses and by Builder::Build for the tree.
bool PreScan(antlr4::CommonTokenStream& tokens, int max_nesting, int max_operators, const TokenPlaces& at,
             Diagnostics* diags) {
  int depth = 0, prefix_run = 0, operators = 0;
  bool ok = true, after_operand = false, after_dot = false;
  static const char* const kDeclStarts[] = {"package", "version", "default",  "on_error", "import", "schema",
                                            "const",   "pattern", "patterns", "rule",     "limit",  "budget"};
  const std::vector<antlr4::Token*> all = tokens.getTokens();
  // The token right after all[i] with nothing (not even a space) between.
  auto touching = [&](size_t i) -> antlr4::Token* {
    if (i + 1 >= all.size() || all[i + 1]->getStartIndex() != all[i]->getStopIndex() + 1) return nullptr;
    return all[i + 1];
  };
  for (size_t i = 0; i < all.size(); ++i) {
    antlr4::Token* t = all[i];
    if (t->getChannel() != antlr4::Token::DEFAULT_CHANNEL || t->getType() == antlr4::Token::EOF) continue;
    const std::string text = t->getText();
    if (t->getType() == PolicyLexer::ERRCHAR) {
      SourceRange where = TokRange(t, at);
      std::string what = text == "\"" ? "unterminated string literal" : "unexpected character '" + text + "'";
      // The spellings of C, JavaScript and Rust: the language writes them as words.
      const char* word = text == "&" ? "and" : text == "|" ? "or" : text == "!" ? "not" : nullptr;
      if (word) {
        antlr4::Token* n = touching(i);
        if (n && n->getText() == text && text != "!") {
          what = "unexpected '" + text + text + "'";
          where.end = TokRange(n, at).end;
          ++i;
        }
        what += std::string(" (did you mean '") + word + "'?)";
      }
      diags->Error(Err::kBadCharacter, where, what);
      ok = false;
      continue;
    }
    // `1e4` lexes as the int 1 and the name e4 (`1e+4`: 1, e, +, 4); a float
    // needs its fraction, so say how to write it rather than "unexpected e4".
    if (t->getType() == PolicyLexer::INT) {
      antlr4::Token* e = touching(i);
      std::string exponent;
      size_t last = i;
      if (e && e->getType() == PolicyLexer::IDENT && (e->getText()[0] == 'e' || e->getText()[0] == 'E')) {
        const std::string et = e->getText();
        const bool digits = et.size() > 1 && std::all_of(et.begin() + 1, et.end(), [](char c) {
                              return std::isdigit(static_cast<unsigned char>(c));
                            });
        antlr4::Token* sign = touching(i + 1);
        antlr4::Token* power = sign ? touching(i + 2) : nullptr;
        if (digits) {
          exponent = et;
          last = i + 1;
        } else if (et.size() == 1 && sign && (sign->getText() == "+" || sign->getText() == "-") && power &&
                   power->getType() == PolicyLexer::INT) {
          exponent = et + sign->getText() + power->getText();
          last = i + 3;
        }
      }
      if (!exponent.empty()) {
        diags->Error(Err::kNumberForm, {TokRange(t, at).begin, TokRange(all[last], at).end},
                     "'" + text + exponent + "' is not a number: a float needs digits on both sides of the dot, " +
                         "also before an exponent; write '" + text + ".0" + exponent + "'");
        ok = false;
        i = last;
        continue;
      }
    }
    if (text == "(" || text == "[" || text == "{") {
      if (++depth > max_nesting) {
        diags->Error(Err::kTooDeep, TokRange(t, at), "nesting deeper than " + std::to_string(max_nesting) + " levels");
        return false;
      }
    } else if (text == ")" || text == "]" || text == "}") {
      if (depth > 0) --depth;
    }
    if (text == "not" || text == "-") {
      if (++prefix_run > max_nesting) {
        diags->Error(Err::kTooDeep, TokRange(t, at),
                     "more than " + std::to_string(max_nesting) + " prefix operators in a row");
        return false;
      }
    } else {
      prefix_run = 0;
    }
    // After an operand at the top level, a declaration keyword can only start
    // the next declaration (a name cannot follow an operand in an expression).
    bool starts = false;
    for (const char* k : kDeclStarts) starts |= text == k;
    if (starts && depth == 0 && (after_operand || text == "const" || text == "rule" || text == "on_error")) {
      operators = 0;
    } else if (after_operand && !EndsOperand(t, false) && text != "," && text != ":" && text != "=") {
      if (++operators > max_operators) {
        diags->Error(Err::kTooDeep, TokRange(t, at),
                     "declaration has more than " + std::to_string(max_operators) + " operators");
        return false;
      }
    }
    after_operand = EndsOperand(t, after_dot);
    after_dot = text == ".";
  }
  return ok;
}

// Thrown out of ANTLR's generated rule functions, which catch only
// RecognitionException, when rule invocations nest deeper than the limit.
struct TooDeep {
  antlr4::Token* at;
  std::string message;
};

// The generated parser recurses once per rule invocation: into every operand
// of a prefix operator or quantifier, every right operand, bracket, argument
// and type argument. A flat chain of binary operators is a loop in ANTLR, but
// `not 1 == not 1 == ...` and `any x in l: any x in l: ...` recurse per
// operator. This parser counts invocations as they happen (whatever the
// grammar's rules are) and stops ANTLR before its stack can run out.
class DepthGuardedParser : public PolicyParser {
 public:
  DepthGuardedParser(antlr4::TokenStream* input, int max_nesting, int max_expr_depth)
      : PolicyParser(input),
        max_type_depth_(max_nesting),
        max_expr_depth_(max_expr_depth),
        max_invocations_(2 * max_expr_depth + 4 * max_nesting + 16) {
    // With a listener attached, ANTLR reports every rule exit through
    // triggerExitRuleEvent (exitRule itself is not virtual).
    addParseListener(&exits_);
  }
  ~DepthGuardedParser() override { removeParseListener(&exits_); }

  using PolicyParser::enterRecursionRule;
  void enterRule(antlr4::ParserRuleContext* ctx, size_t state, size_t rule) override {
    PolicyParser::enterRule(ctx, state, rule);
    Enter(rule);
  }
  void enterRecursionRule(antlr4::ParserRuleContext* ctx, size_t state, size_t rule, int precedence) override {
    PolicyParser::enterRecursionRule(ctx, state, rule, precedence);
    Enter(rule);
  }
  // Called once per rule invocation that ends: from exitRule, and once from
  // unrollRecursionContexts (a recursion rule's contexts all share one parent).
  void triggerExitRuleEvent() override {
    --invocations_;
    PolicyParser::triggerExitRuleEvent();
  }

 private:
  struct NoOpListener : antlr4::tree::ParseTreeListener {
    void visitTerminal(antlr4::tree::TerminalNode*) override {}
    void visitErrorNode(antlr4::tree::ErrorNode*) override {}
    void enterEveryRule(antlr4::ParserRuleContext*) override {}
    void exitEveryRule(antlr4::ParserRuleContext*) override {}
  };

  void Enter(size_t rule) {
    if (rule == RuleTypeRef) {
      // Type arguments nest only inside each other: `list<string>` is one
      // level, two typeRef contexts in a row.
      int run = 0;
      for (auto* c = dynamic_cast<antlr4::RuleContext*>(getContext());
           c && c->getRuleIndex() == RuleTypeRef && run <= max_type_depth_ + 1;
           c = dynamic_cast<antlr4::RuleContext*>(c->parent))
        ++run;
      if (run - 1 > max_type_depth_)
        throw TooDeep{getCurrentToken(),
                      "type arguments nested deeper than " + std::to_string(max_type_depth_) + " levels"};
    }
    // Every invocation beyond the policy and its declaration either holds a
    // type argument (bounded above) or builds at least one level of expression
    // (two invocations: expr, primary) or one bracket pair, so input within the
    // expression and bracket limits never gets here.
    if (++invocations_ > max_invocations_) throw TooDeep{getCurrentToken(), TooDeepMessage(max_expr_depth_)};
  }

  NoOpListener exits_;
  const int max_type_depth_;
  const int max_expr_depth_;
  const int max_invocations_;
  int invocations_ = 0;
};

struct CommentTok {
  size_t index;
  size_t line;
  size_t end_line;
  std::string text;
};

}  // namespace

bool ParsePolicy(const Source& source, int max_nesting, PolicyAst* out, Diagnostics* diags) {
  try {
    antlr4::ANTLRInputStream input(source.text());
    const TokenPlaces at(source.text(), 0);
    PolicyLexer lexer(&input);
    lexer.removeErrorListeners();
    ErrorCollector lex_errors(diags, at);
    lexer.addErrorListener(&lex_errors);
    antlr4::CommonTokenStream tokens(&lexer);
    tokens.fill();
    if (!PreScan(tokens, max_nesting, OperatorLimit(max_nesting), at, diags)) return false;
    const int max_depth = ExprDepthLimit(max_nesting);
    DepthGuardedParser parser(&tokens, max_nesting, max_depth);
    parser.removeErrorListeners();
    ErrorCollector errors(diags, at);
    parser.addErrorListener(&errors);
    P::PolicyContext* tree = nullptr;
    try {
      tree = parser.policy();
    } catch (const TooDeep& e) {
      diags->Error(Err::kTooDeep, TokRange(e.at, at), e.message);
      return false;
    }
    if (errors.count() > 0) return false;

    std::vector<CommentTok> comments;
    for (antlr4::Token* t : tokens.getTokens()) {
      if (t->getType() != PolicyLexer::LINE_COMMENT && t->getType() != PolicyLexer::BLOCK_COMMENT) continue;
      std::string text = t->getText();
      size_t end_line = t->getLine() + std::count(text.begin(), text.end(), '\n');
      comments.push_back({t->getTokenIndex(), t->getLine(), end_line, text});
    }
    auto line_of = [&](size_t tok) { return tokens.get(tok)->getLine(); };
    size_t ci = 0;
    // Comments strictly before token index `limit`: same line as `prev_line`
    // become trailing; others leading, with "" for a blank line between.
    auto take = [&](size_t limit, size_t prev_line, std::string* trailing, std::vector<std::string>* leading,
                    size_t next_line) {
      size_t last_line = prev_line;
      while (ci < comments.size() && comments[ci].index < limit) {
        const CommentTok& c = comments[ci++];
        if (trailing && c.line == prev_line && prev_line != 0) {
          if (!trailing->empty()) *trailing += " ";
          *trailing += c.text;
        } else {
          if (c.line > last_line + 1 && (!leading->empty() || prev_line != 0)) leading->push_back("");
          leading->push_back(c.text);
        }
        last_line = c.end_line;
      }
      if (leading && next_line > last_line + 1 && !leading->empty() && leading->back() != "") leading->push_back("");
    };

    Builder b(diags, at, max_depth);
    size_t prev_stop_line = 0;
    Decl* prev = nullptr;
    bool first = true;
    for (P::DeclContext* dc : tree->decl()) {
      Decl d;
      b.field_tokens_.clear();
      b.BuildDecl(dc, &d);
      const size_t start = dc->getStart()->getTokenIndex();
      const size_t stop = dc->getStop() ? dc->getStop()->getTokenIndex() : start;
      const size_t start_line = line_of(start);
      // Leading comments and blank lines.
      take(start, prev_stop_line, prev ? &prev->trailing : nullptr, &d.comments, start_line);
      if (!first && d.comments.empty() && start_line > prev_stop_line + 1) d.comments.push_back("");
      if (!first && !d.comments.empty() && d.comments.front() != "" && comments.size() > 0) {
        // keep a blank line before a comment block that was separated in the source
      }
      if (first) {
        while (!d.comments.empty() && d.comments.front().empty()) d.comments.erase(d.comments.begin());
      }
      // Children.
      size_t cursor_line = start_line;
      std::string* cursor_trailing = &d.trailing;
      const size_t nchildren = b.field_tokens_.size();
      for (size_t k = 0; k < nchildren; ++k) {
        auto [cs, ce] = b.field_tokens_[k];
        std::vector<std::string>* lead;
        std::string* trail;
        if (d.kind == DeclKind::kSchema) {
          lead = &d.fields[k].comments;
          trail = &d.fields[k].trailing;
        } else {
          lead = &d.items[k].comments;
          trail = &d.items[k].trailing;
        }
        take(cs, cursor_line, cursor_trailing, lead, line_of(cs));
        while (!lead->empty() && lead->back().empty()) lead->pop_back();
        cursor_line = line_of(ce);
        cursor_trailing = trail;
      }
      // The rest of the block: trailing on the current line, else inner.
      take(stop, cursor_line, cursor_trailing, &d.inner_comments, line_of(stop));
      while (!d.inner_comments.empty() && d.inner_comments.back().empty()) d.inner_comments.pop_back();
      while (!d.inner_comments.empty() && d.inner_comments.front().empty())
        d.inner_comments.erase(d.inner_comments.begin());
      out->decls.push_back(std::move(d));
      prev = &out->decls.back();
      prev_stop_line = line_of(stop);
      first = false;
    }
    take(static_cast<size_t>(-1), prev_stop_line, prev ? &prev->trailing : nullptr, &out->tail_comments, 0);
    while (!out->tail_comments.empty() && out->tail_comments.back().empty()) out->tail_comments.pop_back();
    return !diags->has_errors();
  } catch (const std::exception& e) {
    diags->Error(Err::kSyntax, {0, 0}, std::string("parser failure: ") + e.what());
    return false;
  } catch (...) {
    diags->Error(Err::kSyntax, {0, 0}, "parser failure");
    return false;
  }
}

ExprPtr ParseExpression(const std::string& text, uint32_t base, int max_nesting, Diagnostics* diags) {
  try {
    // Parse `text` as a whole expression: wrap it as a const so the grammar's
    // entry rule applies, then take the expression out.
    const std::string wrapped = "const x = " + text;
    const uint32_t shift = base >= 10 ? base - 10 : 0;
    antlr4::ANTLRInputStream input(wrapped);
    const TokenPlaces at(wrapped, shift);
    PolicyLexer lexer(&input);
    lexer.removeErrorListeners();
    ErrorCollector lex_errors(diags, at);
    lexer.addErrorListener(&lex_errors);
    antlr4::CommonTokenStream tokens(&lexer);
    tokens.fill();
    if (!PreScan(tokens, max_nesting, OperatorLimit(max_nesting), at, diags)) return nullptr;
    const int max_depth = ExprDepthLimit(max_nesting);
    DepthGuardedParser parser(&tokens, max_nesting, max_depth);
    parser.removeErrorListeners();
    ErrorCollector errors(diags, at);
    parser.addErrorListener(&errors);
    P::PolicyContext* tree = nullptr;
    try {
      tree = parser.policy();
    } catch (const TooDeep& e) {
      diags->Error(Err::kTooDeep, TokRange(e.at, at), e.message);
      return nullptr;
    }
    if (errors.count() > 0 || tree->decl().size() != 1) {
      if (errors.count() == 0)
        diags->Error(Err::kSyntax, {base, base + static_cast<uint32_t>(text.size())}, "expected one expression");
      return nullptr;
    }
    auto* c = dynamic_cast<P::ConstDeclContext*>(tree->decl(0));
    if (!c) return nullptr;
    Builder b(diags, at, max_depth);
    return b.Build(c->expr());
  } catch (...) {
    diags->Error(Err::kSyntax, {base, base}, "could not parse the interpolated expression");
    return nullptr;
  }
}

std::string QuoteString(const std::string& s) {
  // The inverse of UnescapeLiteral for any bytes: `$` is escaped so that no
  // `${` reads as an interpolation, control characters so that the text stays
  // one line the lexer accepts. Bytes from 0x80 up pass through (UTF-8).
  static const char kHex[] = "0123456789ABCDEF";
  std::string out = "\"";
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '$':
        out += "\\$";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

std::string PrintExpr(const Expr& e) {
  std::string s;
  switch (e.kind) {
    case ExprKind::kInt:
    case ExprKind::kFloat:
    case ExprKind::kDuration:
    case ExprKind::kRegex:
      s = e.raw;
      break;
    case ExprKind::kString:
      s = e.raw.empty() ? QuoteString(e.text) : e.raw;
      break;
    case ExprKind::kBool:
      s = e.bval ? "true" : "false";
      break;
    case ExprKind::kIdent:
      s = e.text;
      break;
    case ExprKind::kMember:
      s = PrintExpr(*e.kids[0]) + "." + e.text;
      break;
    case ExprKind::kIndex:
      s = PrintExpr(*e.kids[0]) + "[" + PrintExpr(*e.kids[1]) + "]";
      break;
    case ExprKind::kNeg:
      s = "-" + PrintExpr(*e.kids[0]);
      break;
    case ExprKind::kNot:
      s = "not " + PrintExpr(*e.kids[0]);
      break;
    case ExprKind::kBinary:
      s = PrintExpr(*e.kids[0]) + " " + e.op + " " + PrintExpr(*e.kids[1]);
      break;
    case ExprKind::kCall: {
      s = e.text + "(";
      for (size_t i = 0; i < e.kids.size(); ++i) s += (i ? ", " : "") + PrintExpr(*e.kids[i]);
      s += ")";
      break;
    }
    case ExprKind::kSet:
    case ExprKind::kList: {
      s = e.kind == ExprKind::kSet ? "{" : "[";
      for (size_t i = 0; i < e.kids.size(); ++i) s += (i ? ", " : "") + PrintExpr(*e.kids[i]);
      s += e.kind == ExprKind::kSet ? "}" : "]";
      break;
    }
    case ExprKind::kMap: {
      s = "{";
      for (size_t i = 0; i < e.kids.size(); ++i) {
        if (i) s += ", ";
        s += (e.key_quoted[i] ? QuoteString(e.keys[i]) : e.keys[i]) + ": " + PrintExpr(*e.kids[i]);
      }
      s += "}";
      break;
    }
    case ExprKind::kQuant:
      s = e.op + " " + e.text + " in " + PrintExpr(*e.kids[0]) + ": " + PrintExpr(*e.kids[1]);
      break;
  }
  return e.parens ? "(" + s + ")" : s;
}

}  // namespace gavel
