-- deploy/gateway/lighttpd-identity.lua: the identity as X-Sgid-* request
-- headers, for an HTTP app (WebSockets included) that lighttpd's mod_proxy
-- serves behind the gateway (deploy/gateway/lighttpd.conf.example, "An HTTP
-- app and WebSockets"; lighttpd 1.4.69, mod_magnet, Debian package
-- lighttpd-modules-lua).
--
-- mod_proxy sends HTTP headers only: the SGID_* variables the authorizer's
-- Variable-SGID_* answers put in the request's environment never reach an
-- HTTP upstream. This script, on the pass after the authorizer said 200
-- (SGID_GATEWAY is set; see lighttpd-cookie.lua, which must run after it),
-- writes the same three headers nginx's example sets: X-Sgid-Sub,
-- X-Sgid-Myinfo-Name, X-Sgid-Myinfo-Nric-Number, each the authorizer's
-- value as it is (percent-encoded by sgid-fcgi), or no header at all when
-- the profile has no such field. Add a line for each other field to pass.
--
-- A client cannot forge one: a request carrying any X-Sgid-* header of its
-- own is refused (403) by the authorizer before this runs, and this script
-- sets or removes each header it names whatever the request held.

local r = lighty.r
local env = r.req_env
if env["SGID_GATEWAY"] == nil then return 0 end
-- "" unsets the header (mod_magnet: an empty value is http_header_request_unset)
r.req_header["X-Sgid-Sub"] = env["SGID_SUB"] or ""
r.req_header["X-Sgid-Myinfo-Name"] = env["SGID_MYINFO_NAME"] or ""
r.req_header["X-Sgid-Myinfo-Nric-Number"] = env["SGID_MYINFO_NRIC_NUMBER"] or ""
return 0
