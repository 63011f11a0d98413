-- POST /token on node-oidc-provider (bench/oidc-provider/server.mjs): the authorization_code
-- grant with one fresh code per request from BENCH_INPUT, as exchange.lua does on
-- obie-tokens; the same dummy-code accounting when codes run out.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.path = "/token"
wrk.headers["Authorization"] = "Basic YmVuY2g6YmVuY2gtc2VjcmV0" -- bench:bench-secret
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["fi_reference_id"] = nil
wrk.headers["version"] = nil

exchange_with(function(code)
  return "grant_type=authorization_code&code=" .. code .. "&redirect_uri=https%3A%2F%2Fwww.google.com"
end)
