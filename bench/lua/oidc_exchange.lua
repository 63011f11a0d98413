-- POST /token on node-oidc-provider (bench/oidc-provider/server.mjs): the authorization_code
-- grant with one fresh code per request from BENCH_INPUT, as exchange.lua does on
-- obie-tokens; the same dummy-code accounting when codes run out.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.path = "/token"
wrk.headers["Authorization"] = "Basic YmVuY2g6YmVuY2gtc2VjcmV0" -- bench:bench-secret
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["fi_reference_id"] = nil
wrk.headers["version"] = nil

local codes, next_code, prefix
local DUMMY_CODE = string.rep("0", 43)
local REDIRECT_URI = "https%3A%2F%2Fwww.google.com"
exhausted = 0

function init(args)
  codes = load_slice(os.getenv("BENCH_INPUT"))
  next_code = 1
  prefix = request_prefix()
end

function request()
  local code = codes[next_code]
  if code then
    next_code = next_code + 1
  else
    code = DUMMY_CODE
    exhausted = exhausted + 1
  end
  return post(prefix, "grant_type=authorization_code&code=" .. code .. "&redirect_uri=" .. REDIRECT_URI)
end
