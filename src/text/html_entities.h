// text/html_entities.h — lookup in the table of HTML5 named character references (html_entities.cpp).
#pragma once
#include <string_view>

namespace difu {

struct HtmlEntity {
    std::string_view name;   // "amp;", or a legacy unterminated name such as "amp"
    std::string_view value;  // UTF-8 replacement text (one or two code points)
};

// The replacement for `name` exactly as spelled (with its ';' if it has one); nullptr when HTML5 has no such name.
const std::string_view* find_html5_entity(std::string_view name);

}  // namespace difu
