/* http.h - libcurl's multi interface driven by our loop (no Lua here).
 *
 * The plumbing follows curl's docs/examples/multi-event.c: libcurl tells us
 * which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to time out
 * (CURLMOPT_TIMERFUNCTION); the loop reports readiness back through
 * curl_multi_socket_action.  Finished transfers call their done function
 * from the loop, never from inside a libcurl callback, so it is safe to
 * start a new request from there. */
#ifndef KBSYNCD_HTTP_H
#define KBSYNCD_HTTP_H
#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

typedef struct http http_t;
typedef struct http_req http_req_t;
typedef void (*http_done_fn)(http_req_t *r, void *ud);

http_t *http_new(loop_t *loop);
void http_free(http_t *h); /* cancels what is still running */
/* 1 when libcurl resolves names without blocking (threaded or c-ares). */
int http_async_dns(void);

http_req_t *http_req_new(http_t *h);
CURL *http_req_easy(http_req_t *r);            /* for plain options */
int http_req_add_header(http_req_t *r, const char *line);
void http_req_body_memory(http_req_t *r, const char *method, const char *data, size_t len);
/* Streams [offset, offset+length) of path as the body; -1 with errno. */
int http_req_body_file(http_req_t *r, const char *method, const char *path, uint64_t offset,
                       int64_t length);
int http_req_response_file(http_req_t *r, const char *path);
void http_req_max_body(http_req_t *r, size_t max);
/* Sign with AWS SigV4 ("aws:amz:REGION:s3"), credentials "KEY:SECRET". */
void http_req_aws_sigv4(http_req_t *r, const char *provider, const char *userpwd);
/* Connect to another host:port than the URL names, keeping the URL's name
 * for Host, SNI and certificate checks (CURLOPT_CONNECT_TO entries
 * "HOST:PORT:CONNECT-HOST:CONNECT-PORT").  For tests that serve a
 * production host name on loopback; -1 when out of memory. */
int http_req_connect_to(http_req_t *r, const char *entry);
int http_req_start(http_req_t *r, http_done_fn done, void *ud);
/* Abort a running request: done is not called; r is freed. */
void http_req_cancel(http_req_t *r);
void http_req_free(http_req_t *r);

/* Results, valid in the done function until http_req_free. */
CURLcode http_req_result(const http_req_t *r);
long http_req_status(const http_req_t *r);
const char *http_req_body(const http_req_t *r, size_t *len);
const char *http_req_headers(const http_req_t *r, size_t *len); /* raw, last response */
/* "class: message" for a failed transfer (class as in docs/lua-api.md). */
const char *http_req_error(http_req_t *r);
#endif
