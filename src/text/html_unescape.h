// text/html_unescape.h — Python's html.unescape(), which openai's CLIP tokenizer applies (twice) to every prompt.
#pragma once
#include <string>
#include <string_view>

namespace difu {

// Replaces character references as html.unescape does (the HTML5 rules): &#NN; &#xHH; and the 2231 HTML5 names;
// a terminating ';' is optional for numbers and for the 106 legacy names (&amp &lt &copy ...), and a name that is
// not one takes its longest legacy prefix (&ampx -> &x); numbers outside Unicode or in the surrogates give U+FFFD,
// C1 controls take their Windows-1252 meaning, and other control and non-characters vanish.
std::u32string html_unescape(std::u32string_view text);

}  // namespace difu
