// server/api_error.h — an error a route answers with: an HTTP status and the JSON body
// {"error": <kind>, "detail": <message>} that every 4xx and 5xx of difu's API carries.
#pragma once
#include <string>

#include "core/error.h"

namespace difu::server {

class ApiError : public Error {
public:
    ApiError(int status, std::string kind, std::string detail)
        : Error(std::move(detail)), status_(status), kind_(std::move(kind)) {}

    int status() const { return status_; }
    const std::string& kind() const { return kind_; }  // "BadRequest", "QueueFull", ...

private:
    int status_;
    std::string kind_;
};

inline ApiError bad_request(const std::string& detail) { return ApiError(400, "BadRequest", detail); }

}  // namespace difu::server
