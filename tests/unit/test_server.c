/* server: the request id comes from the web server's REQUEST_ID FastCGI
 * parameter only, never from a header the client sent. */
#include <string.h>

#include "harness.h"
#include "log.h"
#include "server.h"

static bool is_hex16(const char *s)
{
	return strlen(s) == 16 && strspn(s, "0123456789abcdef") == 16;
}

static void test_request_id_from_server(void)
{
	char *envp[] = { "HTTP_X_REQUEST_ID=client-chosen", "REQUEST_ID=0f3a9c-nginx", NULL };
	server_set_request_id(envp);
	CHECK_STR(log_request_id(), "0f3a9c-nginx");
	log_set_request_id(NULL);
}

static void test_client_header_ignored(void)
{
	char *only_header[] = { "HTTP_X_REQUEST_ID=client-chosen", NULL };
	server_set_request_id(only_header);
	CHECK(strcmp(log_request_id(), "client-chosen") != 0);
	CHECK(is_hex16(log_request_id())); /* one of our own instead */
	char first[17];
	memcpy(first, log_request_id(), sizeof(first));
	char *none[] = { NULL };
	server_set_request_id(none);
	CHECK(is_hex16(log_request_id()));
	CHECK(strcmp(first, log_request_id()) != 0);
	char *empty[] = { "REQUEST_ID=", "HTTP_X_REQUEST_ID=client-chosen", NULL };
	server_set_request_id(empty);
	CHECK(is_hex16(log_request_id()));
	log_set_request_id(NULL);
}

static void test_request_id_sanitised(void)
{
	char *envp[] = { "REQUEST_ID=ab c\r\nlevel=error\"x", NULL };
	server_set_request_id(envp);
	CHECK_STR(log_request_id(), "abclevelerrorx");
	log_set_request_id(NULL);
}

int main(void)
{
	RUN(test_request_id_from_server);
	RUN(test_client_header_ignored);
	RUN(test_request_id_sanitised);
	return harness_report("test_server");
}
