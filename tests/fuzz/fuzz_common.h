// Shared pieces of gavel's libFuzzer targets: the example bundles they decide
// with, a fixed exchange to decide, splitting one fuzz input into parts, and
// checks that hold for every decision. A broken check aborts, so libFuzzer
// records the input like any crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/runtime/engine.h"

namespace gavel::fuzz {

// Aborts with a message when `ok` is false (an invariant a target checks).
void Check(bool ok, const char* what);

// Loads a bundle the build compiled from policies/<name>.policy; aborts if it
// cannot (the fuzz build is broken, not the input).
std::shared_ptr<const Engine> LoadExampleBundle(const std::string& name);

// Splits data at every `sep` byte into at most `max_parts` parts (the last
// part keeps any further separators). Missing parts are empty.
std::vector<std::string_view> Split(const uint8_t* data, size_t size, char sep, size_t max_parts);

// A fixed exchange: a chat request with tools, a principal, a context, an env.
DecodeInput FixedExchange();
// A response body for `on response` rules.
std::string_view FixedResponse();

// What every decision must satisfy, whatever the input: a status in range,
// redaction spans inside their leaves and in order, and valid JSON output.
void CheckDecision(const Worker& worker, const Decision& d);

// Decides the fixed exchange with `engine`, request and response phases, and
// checks both decisions.
void DecideFixedExchange(const Engine& engine);

}  // namespace gavel::fuzz
