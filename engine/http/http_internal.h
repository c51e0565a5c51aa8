#ifndef TRACELOG_ENGINE_HTTP_HTTP_INTERNAL_H_
#define TRACELOG_ENGINE_HTTP_HTTP_INTERNAL_H_

// What the HTTP server's handlers share (http_server.cc routes requests to
// http_ingest.cc and http_read.cc).

#include <httplib.h>

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "engine/http/http_server.h"
#include "engine/port/mutex.h"
#include "engine/query/query.h"

namespace tracelog::http_internal {

// The state of one server, alive from Start to the end of Stop.
struct Context {
  Context(Log* l, HttpOptions o) : log(l), options(std::move(o)), engine(l) {}
  Log* const log;
  const HttpOptions options;
  QueryEngine engine;  // shared by the request threads (QueryEngine is thread-safe)
  mutable Mutex mu;
  HttpStats stats ABSL_GUARDED_BY(mu);
};

// Which API a path belongs to: answers differ in shape.
enum class Api { kV1, kAgentStrace };

// POST /v1/events, POST /events.
void HandleEvents(Context& ctx, const httplib::Request& req, absl::string_view body,
                  httplib::Response& res, Api api);
// GET /v1/sessions, GET /sessions.
void HandleSessions(Context& ctx, const httplib::Request& req, httplib::Response& res, Api api);
// GET /v1/sessions/{id}/events, GET /sessions/{id}/events.
void HandleSessionEvents(Context& ctx, const httplib::Request& req, httplib::Response& res,
                         const std::string& id, Api api);
// GET /v1/query.
void HandleQuery(Context& ctx, const httplib::Request& req, httplib::Response& res);

// {"error": "<message>"} with `status`.
void SendError(httplib::Response& res, int status, absl::string_view message);
void SendJson(httplib::Response& res, int status, std::string body);

}  // namespace tracelog::http_internal

#endif  // TRACELOG_ENGINE_HTTP_HTTP_INTERNAL_H_
