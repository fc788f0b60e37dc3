-- deploy/gateway/lighttpd-cookie.lua: the Cookie header the apps behind the
-- lighttpd gateway get (deploy/gateway/lighttpd.conf.example; lighttpd
-- 1.4.69, mod_magnet, Debian package lighttpd-modules-lua).
--
-- The session cookie is a bearer credential for every app on the site and
-- for /api/userinfo: no app may see it. sgid-fcgi, as the FastCGI
-- authorizer, reads the request's Cookie header with its one cookie parser
-- and answers 200 with
--   Variable-SGID_GATEWAY: 1             always: the authorizer said 200
--   Variable-SGID_APP_COOKIE: <cookies>  the header without the session
--                                        cookie, every other pair byte for
--                                        byte; absent when nothing is left
-- which lighttpd keeps in the request's environment. After a 200 lighttpd
-- starts the request over (gw_authorizer_ok, HANDLER_COMEBACK) and this
-- script runs again (magnet.attract-physical-path-to: on each pass, after
-- the authorizer was picked and before mod_cgi is). On the pass that sees
-- SGID_GATEWAY it replaces the Cookie header with SGID_APP_COOKIE, or
-- removes it when there is none (a request with only the session cookie:
-- no Cookie at all), and removes both variables, and SGID_GATEWAY_SCOPE
-- (mod_setenv puts it in the environment once, for the authorizer), so the
-- app sees none of them.
-- Before the authorizer has run (the first pass) it changes nothing: the
-- authorizer needs the cookie. No parsing here: that stays in C, tested.
--
-- A URL no authorizer guards keeps its Cookie header: the example runs the
-- authorizer on every app path (/protected/, and /public/ with
-- SGID_GATEWAY_SCOPE=public, which needs no login).

local r = lighty.r
local env = r.req_env
if env["SGID_GATEWAY"] == nil then return 0 end
-- "" unsets the header (mod_magnet: an empty value is http_header_request_unset)
r.req_header["Cookie"] = env["SGID_APP_COOKIE"] or ""
env["SGID_APP_COOKIE"] = nil
env["SGID_GATEWAY"] = nil
env["SGID_GATEWAY_SCOPE"] = nil
return 0
