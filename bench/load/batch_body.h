// The JSON body of one POST /v1/messages/batch for `ringpost bench`: `count` messages numbered
// from `first`, each to one recipient, round-robin over the destination domains, with the same
// text of the requested size. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>

#include "bench/load/load_options.h"

namespace ringpost::load {

// Printable text of exactly `size` bytes in lines of at most 76 characters plus LF, so no line
// needs folding and the message stays 7-bit: what a typical notification looks like.
std::string make_text(uint32_t size);

// `text_json` is make_text()'s result already escaped for a JSON string (its LFs as \n).
std::string batch_body(const LoadOptions& o, const std::string& text_json, uint64_t first, uint32_t count);

std::string json_escape_text(const std::string& text);

}  // namespace ringpost::load
