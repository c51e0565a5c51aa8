// HttpServer (http_server.h): the listener, routes, authentication,
// limits and GET /health; the handlers are in http_ingest.cc and
// http_read.cc.

#include "engine/http/http_server.h"

#include <arpa/inet.h>

#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/http/http_internal.h"
#include "engine/ndjson/pyjson.h"

namespace tracelog {

namespace {

using http_internal::Api;
using http_internal::Context;
using http_internal::SendError;
using http_internal::SendJson;

// Equal strings, in a time that depends on their length only.
bool SameToken(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size() || b.empty()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

class HttpServerImpl final : public HttpServer {
 public:
  HttpServerImpl(Log* log, HttpOptions options) : ctx_(log, std::move(options)) {}
  ~HttpServerImpl() override { Stop(); }

  absl::Status Bind() {
    const HttpOptions& o = ctx_.options;
    const int threads = std::max(1, o.threads);
    server_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    server_.set_payload_max_length(o.max_body_bytes);
    const auto secs = static_cast<time_t>(absl::ToInt64Seconds(o.io_timeout));
    const auto usecs = static_cast<time_t>(absl::ToInt64Microseconds(o.io_timeout) % 1000000);
    server_.set_read_timeout(secs, usecs);
    server_.set_write_timeout(secs, usecs);
    server_.set_keep_alive_timeout(5);
    Routes();
    if (o.port == 0) {
      port_ = server_.bind_to_any_port(o.host);
    } else {
      port_ = server_.bind_to_port(o.host, o.port) ? o.port : -1;
    }
    if (port_ <= 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", o.host, ":", o.port, " (address in use, or not ours)"));
    }
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    return absl::OkStatus();
  }

  void Stop() override {
    std::lock_guard<std::mutex> l(stop_mu_);
    if (!thread_.joinable()) return;
    server_.stop();
    thread_.join();  // listen_after_bind returns once every request ended
  }

  int port() const override { return port_; }

  HttpStats Stats() const override {
    MutexLock l(&ctx_.mu);
    return ctx_.stats;
  }

 private:
  void Routes() {
    Context& ctx = ctx_;
    server_.set_pre_routing_handler([&ctx](const httplib::Request& req, httplib::Response& res) {
      {
        MutexLock l(&ctx.mu);
        ++ctx.stats.requests;
      }
      if (ctx.options.token.empty()) return httplib::Server::HandlerResponse::Unhandled;
      const std::string auth = req.get_header_value("Authorization");
      if (absl::StartsWith(auth, "Bearer ") && SameToken(auth.substr(7), ctx.options.token)) {
        return httplib::Server::HandlerResponse::Unhandled;
      }
      res.set_header("WWW-Authenticate", "Bearer");
      SendError(res, 401, "Unauthorized");
      return httplib::Server::HandlerResponse::Handled;
    });
    // 404s, 413s and the like that httplib answers itself get a JSON body
    // that names the limit.
    server_.set_error_handler([&ctx](const httplib::Request&, httplib::Response& res) {
      if (res.status == 413) {
        SendError(res, 413, absl::StrCat("request body larger than the server's limit of ",
                                         ctx.options.max_body_bytes,
                                         " bytes (--http-max-body): nothing of it was stored"));
      } else if (res.body.empty()) {
        SendError(res, res.status,
                  res.status == 404 ? std::string("not found") : absl::StrCat("HTTP ", res.status));
      }
    });
    server_.set_logger([&ctx](const httplib::Request&, const httplib::Response& res) {
      if (res.status < 400) return;
      MutexLock l(&ctx.mu);
      ++ctx.stats.rejected_requests;
    });
    // Bodies are read through a content reader: httplib would otherwise
    // parse a body sent as a form (curl's default type) and refuse one over
    // 8 KiB of it.
    auto events = [&ctx](Api api) {
      return [&ctx, api](const httplib::Request& req, httplib::Response& res,
                         const httplib::ContentReader& reader) {
        std::string body;
        const bool whole = reader([&](const char* data, size_t n) {
          body.append(data, n);
          return true;
        });
        if (!whole) {
          // Over the limit (413, answered by the error handler) or cut off.
          if (res.status != 413) SendError(res, 400, "the request body ended early: nothing stored");
          return;
        }
        http_internal::HandleEvents(ctx, req, body, res, api);
      };
    };
    server_.Post("/v1/events", events(Api::kV1));
    server_.Post("/events/?", events(Api::kAgentStrace));
    server_.Post("/sessions/?", [](const httplib::Request&, httplib::Response& res) {
      SendError(res, 501,
                "tracelog derives session metadata from the events (session_start, session_end): "
                "POST /sessions is not stored; POST the events to /events");
    });
    server_.Get("/v1/sessions", [&ctx](const httplib::Request& req, httplib::Response& res) {
      http_internal::HandleSessions(ctx, req, res, Api::kV1);
    });
    server_.Get("/sessions/?", [&ctx](const httplib::Request& req, httplib::Response& res) {
      http_internal::HandleSessions(ctx, req, res, Api::kAgentStrace);
    });
    // Ids may hold '/': the greedy group takes everything up to the last
    // "/events".
    server_.Get("/v1/sessions/(.+)/events", [&ctx](const httplib::Request& req,
                                                    httplib::Response& res) {
      http_internal::HandleSessionEvents(ctx, req, res, req.matches[1], Api::kV1);
    });
    server_.Get("/sessions/(.+)/events/?", [&ctx](const httplib::Request& req,
                                                   httplib::Response& res) {
      http_internal::HandleSessionEvents(ctx, req, res, req.matches[1], Api::kAgentStrace);
    });
    server_.Get("/v1/query", [&ctx](const httplib::Request& req, httplib::Response& res) {
      http_internal::HandleQuery(ctx, req, res);
    });
    server_.Get("/health/?", [this](const httplib::Request&, httplib::Response& res) {
      Health(res);
    });
  }

  void Health(httplib::Response& res) {
    const LogStats ls = ctx_.log->Stats();
    std::string counters = ctx_.options.counters_json ? ctx_.options.counters_json()
                                                      : absl::StrCat("{", HttpStatsJsonMembers(Stats()), "}");
    std::string body = absl::StrCat(
        "{\"status\":\"ok\",\"fsync\":\"", ctx_.log->options().sync.ToString(),
        "\",\"events\":", ls.events, ",\"last_sequence\":", ls.last_sequence,
        ",\"durable_sequence\":", ls.durable_sequence, ",\"segments\":", ls.segments,
        ",\"counters\":", counters, "}\n");
    SendJson(res, 200, std::move(body));
  }

  Context ctx_;
  httplib::Server server_;
  int port_ = -1;
  std::mutex stop_mu_;
  std::thread thread_;
};

}  // namespace

namespace http_internal {

void SendJson(httplib::Response& res, int status, std::string body) {
  res.status = status;
  res.set_content(std::move(body), "application/json");
}

void SendError(httplib::Response& res, int status, absl::string_view message) {
  std::string body = "{\"error\":";
  AppendPyJsonString(&body, message);
  body += "}\n";
  SendJson(res, status, std::move(body));
}

}  // namespace http_internal

bool IsLoopbackHost(absl::string_view host) {
  if (absl::AsciiStrToLower(host) == "localhost") return true;
  const std::string h(host);
  in_addr v4;
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

std::string HttpStatsJsonMembers(const HttpStats& s) {
  return absl::StrCat("\"http_requests\":", s.requests, ",\"http_events\":", s.events,
                      ",\"http_bytes\":", s.bytes, ",\"http_rejected_lines\":", s.rejected_lines,
                      ",\"http_rejected_requests\":", s.rejected_requests);
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(Log* log, HttpOptions options) {
  if (!IsLoopbackHost(options.host) && options.token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "HTTP on ", options.host,
        " is reachable from other machines: give a bearer token (--token-file), or listen on "
        "127.0.0.1"));
  }
  auto server = std::make_unique<HttpServerImpl>(log, std::move(options));
  if (auto s = server->Bind(); !s.ok()) return s;
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace tracelog
