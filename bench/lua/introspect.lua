-- POST /v1/obie/tokens/introspection, cycling through thread <id>'s slice of the access
-- tokens in BENCH_INPUT (one a line). Introspection consumes nothing, so tokens repeat.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.path = "/v1/obie/tokens/introspection"

local tokens, next_token, prefix

function init(args)
  tokens = load_slice(os.getenv("BENCH_INPUT"))
  assert(#tokens > 0, "no access tokens to introspect")
  next_token = 1
  prefix = request_prefix()
end

function request()
  local token = tokens[next_token]
  next_token = next_token % #tokens + 1
  return post(prefix, '{"access_token":"' .. token .. '"}')
end
