// server/http.h — cpp-httplib as Debian ships it: a compiled library (libcpp-httplib.so) whose public
// classes change layout with the TLS and compression switches it was built with. Every difu file
// includes httplib through this header so the switches always match the library's (pkg-config
// cpp-httplib --cflags); including <httplib.h> without them would be a silent ABI mismatch.
#pragma once

#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#ifndef CPPHTTPLIB_ZLIB_SUPPORT
#define CPPHTTPLIB_ZLIB_SUPPORT
#endif
#ifndef CPPHTTPLIB_BROTLI_SUPPORT
#define CPPHTTPLIB_BROTLI_SUPPORT
#endif
#include <httplib.h>
