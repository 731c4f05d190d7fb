// src/server/.keep.cpp — keeps the difu_server library non-empty before any server source exists.
namespace difu::server {}
