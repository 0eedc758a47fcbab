// Writes seed bundles for fuzz_bundle: each policy given is compiled and
// written twice, as compiled (NAME.bundle) and without its screening
// databases (NAME.noscreen.bundle), which keeps the standard library's
// programs a few KB so mutations reach the program rather than Hyperscan's
// bytes. Usage: make_bundle_seeds OUT_DIR POLICY...
#include <cstdio>
#include <fstream>
#include <string>

#include "engine/compiler/compiler.h"
#include "engine/runtime/bundle.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: make_bundle_seeds OUT_DIR POLICY...\n");
    return 2;
  }
  const std::string out = argv[1];
  int status = 0;
  for (int i = 2; i < argc; ++i) {
    const std::string path = argv[i];
    gavel::CompileResult r = gavel::CompileFile(path);
    if (!r.ok()) {
      std::fprintf(stderr, "%s", r.RenderDiagnostics().c_str());
      status = 1;
      continue;
    }
    std::string name = path.substr(path.find_last_of('/') + 1);
    name = name.substr(0, name.find('.'));
    std::ofstream(out + "/" + name + ".bundle", std::ios::binary) << gavel::WriteBundle(r.program.get());
    r.program->screen_data = gavel::ScreenData();
    std::ofstream(out + "/" + name + ".noscreen.bundle", std::ios::binary) << gavel::WriteBundle(r.program.get());
  }
  return status;
}
