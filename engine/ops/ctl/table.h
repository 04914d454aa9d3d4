// Plain-text tables for `ringpost ctl`: columns padded to their widest cell (UTF-8 aware), two
// spaces apart, no trailing blanks. Pure: no I/O, so every table is unit-tested as text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ringpost::ctl {

using Row = std::vector<std::string>;

// `header` and every row must have the same number of cells; a short row is padded with "".
// Columns listed in `right` (0-based) are right-aligned (numbers).
std::string render_table(const Row& header, const std::vector<Row>& rows, const std::vector<std::size_t>& right = {});

// "key   value" lines with the keys padded to the longest one.
std::string render_fields(const std::vector<std::pair<std::string, std::string>>& fields);

// Terminal columns a UTF-8 string takes (one per code point: enough for addresses and replies).
std::size_t display_width(std::string_view s);

}  // namespace ringpost::ctl
