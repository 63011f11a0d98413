-- POST /v1/obie/tokens with a fresh code per request: thread <id> reads its slice of
-- BENCH_INPUT (one code a line). When its codes run out it keeps sending a dummy code
-- (answered 400) and counts those requests in `exhausted`, reported by done().
-- With BENCH_RECORD_DIR set, each 201's access_token is appended to part.<thread> there.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.path = "/v1/obie/tokens"
wrk.headers["ccg_token"] = "good-access-token"

exchange_with(function(code)
  return '{"auth_code":"' .. code .. '","redirect_uri":"https://www.google.com"}'
end)

local out = nil
if os.getenv("BENCH_RECORD_DIR") then
  local base_init = init
  function init(args)
    base_init(args)
    out = record_file(os.getenv("BENCH_RECORD_DIR"))
  end
  function response(status, headers, body)
    if status == 201 then
      local token = body:match('"access_token":"([^"]+)"')
      if token then out:write(token, "\n") end
    end
  end
end
