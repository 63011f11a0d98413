-- POST /v1/obie/authorization_codes (the sandbox ccg_token, redirect_uri and a state);
-- each 201's auth_code is appended to BENCH_RECORD_DIR/part.<thread>.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.path = "/v1/obie/authorization_codes"
wrk.headers["ccg_token"] = "good-access-token"
wrk.body = '{"redirect_uri":"https://www.google.com","state":"s"}'

local out

function init(args)
  out = record_file(os.getenv("BENCH_RECORD_DIR"))
end

function response(status, headers, body)
  if status == 201 then
    local code = body:match('"auth_code":"([^"]+)"')
    if code then out:write(code, "\n") end
  end
end
