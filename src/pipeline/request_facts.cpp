#include "pipeline/request_facts.hpp"

#include "upstream/providers/usage/request_info.hpp"

#include <memory>

namespace aigw {

const RequestFacts& request_facts(RequestContext& ctx) {
  if (ctx.facts) return *ctx.facts;
  auto read = std::make_shared<RequestFacts>();
  RequestFacts& facts = *read;
  ctx.facts = std::move(read);
  if (ctx.provider == nullptr) return facts;
  const std::string_view target = ctx.target.target;
  const std::string_view path = target.substr(0, target.find('?'));
  const UsageFormat format = ctx.provider->adapter->usage_format(path);
  const usage::RequestInfo info = usage::inspect_request(format, ctx.request.body());
  facts.model = info.model.empty() ? usage::model_from_path(format, path) : info.model;
  facts.prompt_tokens = estimate_tokens(info.prompt_chars);
  facts.max_output_tokens = info.max_output_tokens;
  return facts;
}

}  // namespace aigw
