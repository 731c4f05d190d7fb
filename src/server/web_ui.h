// server/web_ui.h — the page difu serves at /: a prompt box, sampler / steps / seed / size, a
// progress bar fed by /sdapi/v1/progress, and the picture; plain HTML and JavaScript, no build step.
#pragma once
#include <string_view>

namespace difu::server {

std::string_view web_ui_html();

}  // namespace difu::server
