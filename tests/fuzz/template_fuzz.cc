// Fuzz target: policy input templates ("{{ inputs.url }}").
// Input: "<template>\n<value of inputs.url>". Properties: nothing crashes;
// an error offset lies inside the text; a parsed template renders with
// known inputs unless it names another input; text without "{{" renders
// verbatim; substituted values are not expanded again.
#include <cstdlib>
#include <map>
#include <string>

#include "policy/template.h"
#include "tests/fuzz/fuzz_input.h"

using relayq::policy::Template;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  relayq::fuzz::FuzzInput in(data, size);
  std::string_view text = in.Line();
  std::string url(in.Rest());

  relayq::policy::TemplateError error;
  auto t = Template::Parse(text, &error);
  if (!t.ok()) {
    if (error.offset > text.size()) std::abort();
    return 0;
  }
  std::map<std::string, std::string> inputs = {{"url", url}};
  relayq::policy::TemplateContext ctx;
  ctx.inputs = &inputs;
  ctx.run_id = 11185212;
  ctx.run_attempt = 1;
  ctx.repository = "octo-org/media-kit";
  ctx.run_display_title = url;
  auto rendered = t->Render(ctx);
  bool only_url = true;
  for (const std::string& v : t->variables()) {
    if (v.rfind("inputs.", 0) == 0 && v != "inputs.url") only_url = false;
  }
  if (only_url && !rendered.ok()) std::abort();
  if (text.find("{{") == std::string_view::npos && (!rendered.ok() || *rendered != text)) {
    std::abort();
  }
  if (text == "{{ inputs.url }}" && *rendered != url) std::abort();
  relayq::policy::TemplateContext unknown;  // inputs unknown
  auto r2 = t->Render(unknown);
  if (!t->references_inputs() && !r2.ok()) std::abort();
  return 0;
}
