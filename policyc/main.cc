// policyc: the command-line front end of gavel — argument parsing and one
// function per subcommand. The work itself lives in the compiler, the runtime
// and the other policyc files; no exception leaves main and no input crashes it.
// Exit codes: 0 success, 1 errors in the input (or failing tests), 2 usage.
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "engine/compiler/compiler.h"
#include "engine/runtime/bundle.h"
#include "engine/runtime/engine.h"
#include "gavel_version.h"
#include "policyc/doc_tables.h"
#include "policyc/explain.h"
#include "policyc/io.h"
#include "policyc/load.h"
#include "policyc/signing.h"
#include "policyc/test_runner.h"

namespace gavel::policyc {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

const char kMainUsage[] =
    "usage: policyc <command> [options] [args]\n"
    "\n"
    "commands:\n"
    "  check FILE...            compile policies and report diagnostics\n"
    "  fmt [-w|--check] FILE... format policies canonically\n"
    "  compile FILE -o OUT      compile a policy into a bundle (--sign KEY signs it)\n"
    "  eval POLICY [inputs]     decide one request (or response) and print the decision\n"
    "  explain POLICY [inputs]  eval, then explain every predicate and rule\n"
    "  dump POLICY_OR_BUNDLE    disassemble a compiled policy\n"
    "  test PATH...             run .test.yaml files\n"
    "  keygen -o NAME           make a signing key pair (NAME.key, NAME.pub)\n"
    "  verify --key PUB BUNDLE  check a signed bundle's signature\n"
    "\n"
    "`policyc <command> --help` describes a command. `policyc --version` prints the version.\n";

const char kStdlibHelp[] =
    "  --stdlib DIR     look up stdlib imports in DIR (default: $GAVEL_STDLIB, else\n"
    "                   share/gavel/stdlib of an installed policyc, else the source\n"
    "                   tree policyc was built from)\n";

const char kInputsHelp[] =
    "  --request F      request body (JSON); F is a file or - for stdin\n"
    "  --response F     model response (JSON); evaluates the `on response` rules\n"
    "  --principal F    principal attributes (JSON object)\n"
    "  --context F      context attributes (JSON object)\n"
    "  --env F          env attributes (JSON object), e.g. {\"time\": \"2026-11-22T10:00:00Z\"}\n"
    "  --endpoint E     chat | completions | responses | embeddings (default: inferred)\n"
    "  --input-tokens N exact input token count (default: estimated from the text)\n";

struct Command {
  const char* name;
  const char* summary;  // the usage line(s) and description
  const char* options;  // option help, or ""
  bool stdlib;          // accepts --stdlib
};

const Command kCommands[] = {
    {"check",
     "usage: policyc check [options] FILE...\n\n"
     "Compiles each policy (or verifies each bundle), prints diagnostics to stderr and,\n"
     "for each clean file, `ok: FILE (N rules, M predicates, worst-case cost K instructions)`.\n"
     "Exits 1 if any file has errors; warnings alone exit 0.\n",
     "", true},
    {"fmt",
     "usage: policyc fmt [-w | --check] FILE...\n\n"
     "Formats policies canonically (comments are kept). Prints the result to stdout\n"
     "unless -w or --check is given. FILE may be - for stdin (not with -w).\n",
     "  -w, --write      rewrite files in place (only those that change)\n"
     "  --check          list files that are not formatted; exit 1 if any\n",
     false},
    {"compile",
     "usage: policyc compile [options] FILE -o OUT\n\n"
     "Compiles a policy into a bundle and prints `wrote OUT (N bytes, bundle xxh3:...)`.\n"
     "With --sign, the bundle is signed (Ed25519) and the line ends `, signed by key ID`;\n"
     "engines that trust that key's .pub file load it (docs/design.md, Threat model).\n",
     "  -o, --output OUT where to write the bundle (required)\n"
     "  --sign KEY       sign the bundle with the secret key file KEY (from keygen)\n",
     true},
    {"eval",
     "usage: policyc eval [options] POLICY_OR_BUNDLE\n\n"
     "Decides one request and prints the decision as one line of JSON. With --response\n"
     "the `on response` rules are evaluated instead. At most one input may be - (stdin).\n"
     "Allow and deny both exit 0; an unreadable file, a refused bundle or a policy\n"
     "with errors exits 1.\n",
     "  --explain        also explain every predicate and rule of the evaluated phase\n", true},
    {"explain",
     "usage: policyc explain [options] POLICY_OR_BUNDLE\n\n"
     "Same as `policyc eval --explain`: prints the decision, then each predicate's value\n"
     "and each rule's outcome, with the predicate that kept it from firing.\n",
     "", true},
    {"dump",
     "usage: policyc dump [options] POLICY_OR_BUNDLE\n\n"
     "Prints the bundle hash and the disassembled program: slots, pattern sets,\n"
     "predicates with their bytecode, and rules as conjunctions of predicates.\n",
     "", true},
    {"test",
     "usage: policyc test [options] PATH...\n\n"
     "Runs test files: each PATH is a .test.yaml file or a folder searched recursively\n"
     "for *.test.yaml. Prints PASS/FAIL per case and ends with `N passed, M failed`.\n"
     "Exits 1 if any case fails or any file cannot be run.\n",
     "  --coverage       list the rules no case made fire, per policy\n"
     "  -v, --verbose    print every decision, and explanations of failures\n",
     true},
    {"keygen",
     "usage: policyc keygen -o NAME\n\n"
     "Generates an Ed25519 key pair for signing bundles: NAME.key, the secret key\n"
     "(mode 0600; give it to `policyc compile --sign`), and NAME.pub, the public key\n"
     "(give it to gateways and to `policyc verify --key`). Prints the key id, the\n"
     "16 hex digits that name the key in signed bundles and decisions. Existing\n"
     "files are never overwritten. Each file holds one line (after `#` comments):\n"
     "  gavel-ed25519-secret KEY_ID SEED        (64 hex digits)\n"
     "  gavel-ed25519-public KEY_ID PUBLIC_KEY  (64 hex digits)\n",
     "  -o, --output NAME where to write the keys: NAME.key and NAME.pub (required)\n", false},
    {"verify",
     "usage: policyc verify --key PUB [--key PUB...] BUNDLE\n\n"
     "Checks that BUNDLE is signed by one of the given public keys and loads as an\n"
     "engine trusting exactly those keys would: prints `ok: BUNDLE signed by key ID\n"
     "(PUB), bundle xxh3:...` and exits 0. An unsigned bundle, one signed by another\n"
     "key, a changed byte or a bundle the runtime refuses exit 1 with the reason.\n",
     "  --key PUB        a trusted public key file (from keygen); may be repeated\n", false},
};

const Command* FindCommand(const std::string& name) {
  for (const Command& c : kCommands)
    if (name == c.name) return &c;
  return nullptr;
}

void PrintHelp(const Command& c) {
  std::string text = c.summary;
  text += "\noptions:\n";
  text += c.options;
  if (std::string(c.name) == "eval" || std::string(c.name) == "explain") text += kInputsHelp;
  if (c.stdlib) text += kStdlibHelp;
  text += "  -h, --help       show this help\n";
  std::fputs(text.c_str(), stdout);
}

int UsageError(const Command& c, const std::string& message) {
  std::fprintf(stderr, "policyc %s: %s\n", c.name, message.c_str());
  std::fprintf(stderr, "%s", c.summary);
  std::fprintf(stderr, "Run `policyc %s --help` for the options.\n", c.name);
  return kExitUsage;
}

// One option a command accepts.
struct OptionSpec {
  const char* name;  // "--request"
  char short_name;   // 'o', or 0
  bool takes_value;
  bool repeatable = false;  // every value is kept in ParsedArgs::repeated
};

struct ParsedArgs {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;                 // by long name; flags map to ""
  std::map<std::string, std::vector<std::string>> repeated;  // repeatable options, in order
  bool Has(const std::string& name) const { return values.count(name) != 0; }
  std::string Get(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? "" : it->second;
  }
};

// Parses argv[first..] against `specs`. Returns false with *err on an unknown
// option, a missing value or a repeated option.
bool ParseArgs(int argc, char** argv, int first, const std::vector<OptionSpec>& specs, ParsedArgs* out,
               std::string* err) {
  bool options_done = false;
  for (int i = first; i < argc; ++i) {
    const std::string arg = argv[i];
    if (options_done || arg == "-" || arg.empty() || arg[0] != '-') {
      out->positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    std::string name = arg, value;
    bool has_inline_value = false;
    const OptionSpec* spec = nullptr;
    if (arg.rfind("--", 0) == 0) {
      const size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
        has_inline_value = true;
      }
      for (const OptionSpec& s : specs)
        if (name == s.name) spec = &s;
    } else if (arg.size() == 2) {
      for (const OptionSpec& s : specs)
        if (s.short_name == arg[1]) spec = &s;
    }
    if (spec == nullptr) {
      *err = "unknown option '" + arg + "'";
      return false;
    }
    if (spec->takes_value && !has_inline_value) {
      if (i + 1 >= argc) {
        *err = "option " + std::string(spec->name) + " needs a value";
        return false;
      }
      value = argv[++i];
    } else if (!spec->takes_value && has_inline_value) {
      *err = "option " + std::string(spec->name) + " takes no value";
      return false;
    }
    if (spec->repeatable) {
      out->values[spec->name] = value;
      out->repeated[spec->name].push_back(value);
      continue;
    }
    if (!out->values.emplace(spec->name, value).second) {
      *err = "option " + std::string(spec->name) + " given twice";
      return false;
    }
  }
  return true;
}

// The standard library of an installed policyc (<prefix>/bin/policyc finds
// <prefix>/share/gavel/stdlib), found from the executable's own location so
// that an installed tree still works after it is moved.
std::string InstalledStdlibDir() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  const fs::path dir = (exe.parent_path() / GAVEL_STDLIB_FROM_BIN).lexically_normal();
  return fs::is_directory(dir / "std", ec) ? dir.string() : "";
}

// Empty means the compiler's fallback: the source tree policyc was built from.
std::string StdlibDir(const ParsedArgs& args) {
  if (args.Has("--stdlib")) return args.Get("--stdlib");
  const char* env = std::getenv("GAVEL_STDLIB");
  if (env != nullptr && *env != '\0') return env;
  return InstalledStdlibDir();
}

void PrintReport(const std::string& report) {
  if (report.empty()) return;
  std::fflush(stdout);
  std::fputs(report.c_str(), stderr);
  if (report.back() != '\n') std::fputc('\n', stderr);
}

// --- check --------------------------------------------------------------

int RunCheck(const ParsedArgs& args) {
  int status = kExitOk;
  for (const std::string& path : args.positional) {
    LoadedPolicy loaded;
    std::string report;
    const bool ok = LoadPolicyOrBundle(path, StdlibDir(args), &loaded, &report);
    PrintReport(report);
    if (!ok) {
      status = kExitError;
      continue;
    }
    const Program& p = loaded.engine->program();
    if (loaded.from_bundle) {
      std::printf("ok: %s (bundle %s, %zu rules, %zu predicates)\n", DisplayName(path).c_str(),
                  loaded.engine->hash_hex().c_str(), p.rules.size(), p.predicates.size());
    } else {
      std::printf("ok: %s (%zu rules, %zu predicates, worst-case cost %llu instructions)\n", DisplayName(path).c_str(),
                  p.rules.size(), p.predicates.size(), static_cast<unsigned long long>(loaded.worst_case_cost));
    }
  }
  return status;
}

// --- fmt ----------------------------------------------------------------

int RunFmt(const ParsedArgs& args, const Command& cmd) {
  const bool write = args.Has("--write"), check = args.Has("--check");
  if (write && check) return UsageError(cmd, "-w and --check cannot be combined");
  int stdin_uses = 0;
  for (const std::string& path : args.positional) stdin_uses += path == "-";
  if (stdin_uses > 1) return UsageError(cmd, "stdin (-) can be given only once");
  if (write && stdin_uses) return UsageError(cmd, "-w cannot rewrite stdin");
  int status = kExitOk;
  for (const std::string& path : args.positional) {
    std::string text, err;
    if (!ReadInput(path, &text, &err)) {
      PrintReport("error: " + err);
      status = kExitError;
      continue;
    }
    if (LooksLikeBundle(text)) {
      PrintReport("error: " + DisplayName(path) + ": is a compiled bundle, not policy source");
      status = kExitError;
      continue;
    }
    std::string formatted;
    Diagnostics diags;
    const bool ok = FormatSource(DisplayName(path), text, &formatted, &diags);
    if (!diags.items().empty()) PrintReport(diags.Render(Source(DisplayName(path), text)));
    if (!ok) {
      if (diags.items().empty()) PrintReport("error: " + DisplayName(path) + ": could not be formatted");
      status = kExitError;
      continue;
    }
    if (check) {
      if (formatted != text) {
        std::printf("%s\n", DisplayName(path).c_str());
        status = kExitError;
      }
    } else if (write) {
      if (formatted != text && !WriteFileReplacing(path, formatted, &err)) {
        PrintReport("error: " + err);
        status = kExitError;
      }
    } else {
      std::fwrite(formatted.data(), 1, formatted.size(), stdout);
    }
  }
  return status;
}

// --- compile ------------------------------------------------------------

int RunCompile(const ParsedArgs& args, const Command& cmd) {
  if (args.positional.size() != 1) return UsageError(cmd, "expected exactly one policy file");
  if (!args.Has("--output") || args.Get("--output").empty()) return UsageError(cmd, "-o OUT is required");
  const std::string& path = args.positional[0];
  const std::string out = args.Get("--output");
  std::string text, err;
  if (!ReadInput(path, &text, &err)) {
    PrintReport("error: " + err);
    return kExitError;
  }
  if (LooksLikeBundle(text)) {
    PrintReport("error: " + DisplayName(path) + ": is already a compiled bundle");
    return kExitError;
  }
  // The key is read first: a bad key fails before any work, and never after
  // an unsigned bundle has been written in place of the signed one.
  SecretKey key;
  const bool sign = args.Has("--sign");
  if (sign) {
    if (args.Get("--sign").empty()) return UsageError(cmd, "--sign needs a secret key file");
    std::string key_text;
    if (!ReadInput(args.Get("--sign"), &key_text, &err)) {
      PrintReport("error: " + err);
      return kExitError;
    }
    if (!ParseSecretKey(key_text, &key, &err)) {
      PrintReport("error: " + DisplayName(args.Get("--sign")) + ": not a secret key: " + err);
      return kExitError;
    }
  }
  CompiledPolicy compiled;
  std::string report;
  const bool ok = CompilePolicy(path, text, StdlibDir(args), &compiled, &report);
  PrintReport(report);
  if (!ok) return kExitError;
  std::string bytes = sign ? SignBundle(compiled.bundle, key) : compiled.bundle;
  // Never write a bundle the runtime would refuse (a signed one: as an engine
  // trusting exactly this key would load it).
  TrustedKeys trusted;
  if (sign) trusted.push_back(key.public_key);
  auto engine = Engine::Load(bytes.data(), bytes.size(), trusted, &err);
  if (engine == nullptr) {
    PrintReport("error: " + DisplayName(path) + ": the compiled bundle was refused by the runtime: " + err);
    return kExitError;
  }
  if (!WriteFileReplacing(out, bytes, &err)) {
    PrintReport("error: " + err);
    return kExitError;
  }
  std::printf("wrote %s (%zu bytes, bundle %s%s%s)\n", out.c_str(), bytes.size(), engine->hash_hex().c_str(),
              sign ? ", signed by key " : "", sign ? engine->signer().c_str() : "");
  return kExitOk;
}

// --- keygen / verify ----------------------------------------------------

int RunKeygen(const ParsedArgs& args, const Command& cmd) {
  if (!args.positional.empty()) return UsageError(cmd, "unexpected argument '" + args.positional[0] + "'");
  const std::string name = args.Get("--output");
  if (name.empty()) return UsageError(cmd, "-o NAME is required");
  SecretKey key;
  if (!GenerateKey(&key)) {
    PrintReport("error: no random source to generate a key");
    return kExitError;
  }
  std::string err;
  const std::string secret_path = name + ".key", public_path = name + ".pub";
  // Both paths are checked first, so a refusal leaves no half of a pair.
  for (const std::string& p : {secret_path, public_path}) {
    struct stat st;
    if (::lstat(p.c_str(), &st) == 0) {
      PrintReport("error: " + p + ": already exists (not overwriting a key)");
      return kExitError;
    }
  }
  if (!WriteNewFile(secret_path, FormatSecretKey(key), 0600, &err) ||
      !WriteNewFile(public_path, FormatPublicKey(key.public_key), 0644, &err)) {
    PrintReport("error: " + err);
    return kExitError;
  }
  std::printf("key id %s: wrote %s (secret, mode 0600) and %s (public)\n", KeyIdHex(key.public_key.id).c_str(),
              secret_path.c_str(), public_path.c_str());
  return kExitOk;
}

int RunVerify(const ParsedArgs& args, const Command& cmd) {
  if (args.positional.size() != 1) return UsageError(cmd, "expected exactly one bundle");
  auto it = args.repeated.find("--key");
  if (it == args.repeated.end() || it->second.empty()) return UsageError(cmd, "--key PUB is required");
  TrustedKeys trusted;
  std::map<std::string, std::string> key_files;  // key id -> file that named it
  for (const std::string& path : it->second) {
    std::string text, err;
    PublicKey key;
    if (!ReadInput(path, &text, &err)) {
      PrintReport("error: " + err);
      return kExitError;
    }
    if (!ParsePublicKey(text, &key, &err)) {
      PrintReport("error: " + DisplayName(path) + ": not a public key: " + err);
      return kExitError;
    }
    trusted.push_back(key);
    key_files.emplace(KeyIdHex(key.id), DisplayName(path));
  }
  const std::string& path = args.positional[0];
  std::string bytes, err;
  if (!ReadInput(path, &bytes, &err)) {
    PrintReport("error: " + err);
    return kExitError;
  }
  auto engine = Engine::Load(bytes.data(), bytes.size(), trusted, &err);
  if (engine == nullptr) {
    PrintReport("error: " + DisplayName(path) + ": " + err);
    return kExitError;
  }
  std::printf("ok: %s signed by key %s (%s), bundle %s\n", DisplayName(path).c_str(), engine->signer().c_str(),
              key_files[engine->signer()].c_str(), engine->hash_hex().c_str());
  return kExitOk;
}

// --- eval / explain -----------------------------------------------------

bool ParseTokenCount(const std::string& s, int64_t* out) {
  if (s.empty() || s.size() > 18) return false;  // 18 digits always fit int64
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

int RunEval(const ParsedArgs& args, const Command& cmd, bool explain) {
  if (args.positional.size() != 1) return UsageError(cmd, "expected exactly one policy or bundle");
  static const char* const kInputs[] = {"--request", "--response", "--principal", "--context", "--env"};
  int stdin_uses = args.positional[0] == "-";
  for (const char* name : kInputs) stdin_uses += args.Has(name) && args.Get(name) == "-";
  if (stdin_uses > 1) return UsageError(cmd, "stdin (-) can be given only once");
  std::string endpoint = args.Get("--endpoint");
  if (args.Has("--endpoint") && endpoint != "chat" && endpoint != "completions" && endpoint != "responses" &&
      endpoint != "embeddings")
    return UsageError(cmd, "--endpoint must be chat, completions, responses or embeddings");
  int64_t input_tokens = -1;
  if (args.Has("--input-tokens") && !ParseTokenCount(args.Get("--input-tokens"), &input_tokens))
    return UsageError(cmd, "--input-tokens must be a non-negative integer");

  std::map<std::string, std::string> texts;
  for (const char* name : kInputs) {
    if (!args.Has(name)) continue;
    std::string err;
    if (!ReadInput(args.Get(name), &texts[name], &err)) {
      PrintReport("error: " + std::string(name + 2) + ": " + err);
      return kExitError;
    }
  }
  LoadedPolicy loaded;
  std::string report;
  const bool ok = LoadPolicyOrBundle(args.positional[0], StdlibDir(args), &loaded, &report);
  PrintReport(report);
  if (!ok) return kExitError;

  DecodeInput in;
  in.request = texts["--request"];
  in.response = texts["--response"];
  in.principal = texts["--principal"];
  in.context = texts["--context"];
  in.env = texts["--env"];
  in.endpoint = endpoint;
  in.input_tokens = input_tokens;
  DecideOptions opts;
  opts.phase = args.Has("--response") ? Phase::kResponse : Phase::kRequest;
  Worker worker;
  const Decision& d = worker.Decide(*loaded.engine, in, opts);
  std::printf("%s\n", d.ToJson().c_str());
  if (explain) std::fputs(ExplainDecision(d).c_str(), stdout);
  // A gateway would answer 400; that is a decision, but the author should see why.
  if (d.invalid_input) PrintReport("note: the input could not be decoded: " + d.message);
  return kExitOk;
}

// --- dump ---------------------------------------------------------------

int RunDump(const ParsedArgs& args, const Command& cmd) {
  if (args.positional.size() != 1) return UsageError(cmd, "expected exactly one policy or bundle");
  LoadedPolicy loaded;
  std::string report;
  const bool ok = LoadPolicyOrBundle(args.positional[0], StdlibDir(args), &loaded, &report);
  PrintReport(report);
  if (!ok) return kExitError;
  std::printf("bundle %s (%zu bytes)\n", loaded.engine->hash_hex().c_str(), loaded.bundle_bytes);
  const std::string listing = Disassemble(loaded.engine->program());
  std::fwrite(listing.data(), 1, listing.size(), stdout);
  if (!listing.empty() && listing.back() != '\n') std::fputc('\n', stdout);
  return kExitOk;
}

// --- test ---------------------------------------------------------------

int RunTestCommand(const ParsedArgs& args, const Command& cmd) {
  if (args.positional.empty()) return UsageError(cmd, "expected at least one test file or folder");
  TestOptions options;
  options.coverage = args.Has("--coverage");
  options.verbose = args.Has("--verbose");
  options.stdlib_dir = StdlibDir(args);
  return RunTests(args.positional, options);
}

std::vector<OptionSpec> OptionsOf(const std::string& name) {
  std::vector<OptionSpec> specs = {{"--help", 'h', false}};
  const Command* c = FindCommand(name);
  if (c != nullptr && c->stdlib) specs.push_back({"--stdlib", 0, true});
  if (name == "fmt") {
    specs.push_back({"--write", 'w', false});
    specs.push_back({"--check", 0, false});
  } else if (name == "compile") {
    specs.push_back({"--output", 'o', true});
    specs.push_back({"--sign", 0, true});
  } else if (name == "keygen") {
    specs.push_back({"--output", 'o', true});
  } else if (name == "verify") {
    specs.push_back({"--key", 0, true, true});
  } else if (name == "eval" || name == "explain") {
    for (const char* o :
         {"--request", "--response", "--principal", "--context", "--env", "--endpoint", "--input-tokens"})
      specs.push_back({o, 0, true});
    if (name == "eval") specs.push_back({"--explain", 0, false});
  } else if (name == "test") {
    specs.push_back({"--coverage", 0, false});
    specs.push_back({"--verbose", 'v', false});
  }
  return specs;
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kMainUsage, stderr);
    return kExitUsage;
  }
  const std::string first = argv[1];
  if (first == "--help" || first == "-h" || first == "help") {
    if (first == "help" && argc > 2) {
      if (const Command* c = FindCommand(argv[2])) {
        PrintHelp(*c);
        return kExitOk;
      }
      std::fprintf(stderr, "policyc: unknown command '%s'\n%s", argv[2], kMainUsage);
      return kExitUsage;
    }
    std::fputs(kMainUsage, stdout);
    return kExitOk;
  }
  if (first == "--version") {
    std::printf("policyc %s (bundle format %u)\n", GAVEL_VERSION_STRING, kBundleFormatVersion);
    return kExitOk;
  }
  if (first == "docs-diagnostics") return RunDiagnosticsDoc(std::vector<std::string>(argv + 2, argv + argc));
  const Command* cmd = FindCommand(first);
  if (cmd == nullptr) {
    std::fprintf(stderr, "policyc: unknown command '%s'\n%s", first.c_str(), kMainUsage);
    return kExitUsage;
  }
  ParsedArgs args;
  std::string err;
  if (!ParseArgs(argc, argv, 2, OptionsOf(first), &args, &err)) return UsageError(*cmd, err);
  if (args.Has("--help")) {
    PrintHelp(*cmd);
    return kExitOk;
  }
  if (first == "check" || first == "fmt") {
    if (args.positional.empty()) return UsageError(*cmd, "expected at least one file");
    return first == "check" ? RunCheck(args) : RunFmt(args, *cmd);
  }
  if (first == "compile") return RunCompile(args, *cmd);
  if (first == "eval") return RunEval(args, *cmd, args.Has("--explain"));
  if (first == "explain") return RunEval(args, *cmd, true);
  if (first == "dump") return RunDump(args, *cmd);
  if (first == "keygen") return RunKeygen(args, *cmd);
  if (first == "verify") return RunVerify(args, *cmd);
  return RunTestCommand(args, *cmd);
}

}  // namespace
}  // namespace gavel::policyc

int main(int argc, char** argv) {
  try {
    const int status = gavel::policyc::Main(argc, argv);
    if (std::fflush(stdout) != 0) {
      std::fprintf(stderr, "policyc: cannot write output: %s\n", std::strerror(errno));
      return 1;
    }
    return status;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "policyc: internal error: %s\n", e.what());
  } catch (...) {
    std::fflush(stdout);
    std::fprintf(stderr, "policyc: internal error (unknown exception)\n");
  }
  return 1;
}
