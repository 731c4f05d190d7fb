#include "server/job_queue.h"

#include <ctime>

#include "server/api_error.h"

namespace difu::server {
namespace {

std::string timestamp_now() {  // webui's job_timestamp: local time, %Y%m%d%H%M%S
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
    return buf;
}

size_t at_least_one(size_t capacity) {  // checked before the worker thread exists
    DIFU_CHECK(capacity >= 1, "a job queue needs room for at least one job");
    return capacity;
}

}  // namespace

// ---- JobContext ---------------------------------------------------------------------------------

bool JobContext::report(const ProgressInfo& info) {
    std::lock_guard lock(mutex_);
    p_.phase = info.phase;
    if (info.phase == "sampling") {
        p_.sampling_step = info.step;
        p_.sampling_steps = info.steps;
    }
    return !p_.interrupted && !p_.skipped;
}

void JobContext::set_preview(std::string png_base64) {
    std::lock_guard lock(mutex_);
    p_.current_image = std::move(png_base64);
}

void JobContext::begin_batch(int batch, int batches) {
    std::lock_guard lock(mutex_);
    p_.job_no = batch;
    p_.job_count = batches;
    p_.sampling_step = 0;
    p_.skipped = false;  // a skip that came between batches was meant for the one that just ended
}

bool JobContext::interrupted() const {
    std::lock_guard lock(mutex_);
    return p_.interrupted;
}

bool JobContext::take_skip() {
    std::lock_guard lock(mutex_);
    const bool was = p_.skipped;
    p_.skipped = false;
    return was;
}

uint64_t JobContext::id() const {
    std::lock_guard lock(mutex_);
    return p_.job_id;
}

std::string JobContext::job_timestamp() const {
    std::lock_guard lock(mutex_);
    return p_.job_timestamp;
}

void JobContext::start(uint64_t id) {
    std::lock_guard lock(mutex_);
    p_ = JobProgress{};  // webui resets interrupted / skipped when a job begins
    p_.running = true;
    p_.job_id = id;
    p_.job_count = 1;
    p_.job_timestamp = timestamp_now();
    started_ = std::chrono::steady_clock::now();
}

void JobContext::finish() {
    std::lock_guard lock(mutex_);
    p_.running = false;
}

void JobContext::interrupt() {
    std::lock_guard lock(mutex_);
    if (p_.running) p_.interrupted = true;
}

void JobContext::skip() {
    std::lock_guard lock(mutex_);
    if (p_.running) p_.skipped = true;
}

JobProgress JobContext::snapshot() const {
    std::lock_guard lock(mutex_);
    JobProgress p = p_;
    if (p.running) p.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    return p;
}

// ---- JobQueue -----------------------------------------------------------------------------------

JobQueue::JobQueue(size_t capacity) : capacity_(at_least_one(capacity)), worker_([this] { worker_loop(); }) {}

JobQueue::~JobQueue() { shutdown(); }

std::optional<std::future<void>> JobQueue::try_submit(Work work) {
    std::lock_guard lock(mutex_);
    if (stopping_ || waiting_.size() >= capacity_) return std::nullopt;
    waiting_.push_back(Entry{std::move(work), {}});
    std::future<void> f = waiting_.back().done.get_future();
    wake_.notify_one();
    return f;
}

bool JobQueue::full() const {
    std::lock_guard lock(mutex_);
    return stopping_ || waiting_.size() >= capacity_;
}

bool JobQueue::accepting() const {
    std::lock_guard lock(mutex_);
    return !stopping_;
}

void JobQueue::interrupt() { ctx_.interrupt(); }
void JobQueue::skip() { ctx_.skip(); }

void JobQueue::shutdown() {
    std::deque<Entry> abandoned;
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && !worker_.joinable()) return;
        stopping_ = true;
        abandoned.swap(waiting_);
        wake_.notify_all();
    }
    ctx_.interrupt();
    for (Entry& e : abandoned)
        e.done.set_exception(std::make_exception_ptr(ApiError(503, "ShuttingDown", "the server is shutting down")));
    if (worker_.joinable()) worker_.join();
}

JobProgress JobQueue::progress() const { return ctx_.snapshot(); }

size_t JobQueue::waiting() const {
    std::lock_guard lock(mutex_);
    return waiting_.size();
}

bool JobQueue::busy() const {
    std::lock_guard lock(mutex_);
    return busy_;
}

void JobQueue::worker_loop() {
    for (;;) {
        Entry e;
        uint64_t id = 0;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
            if (stopping_) return;
            e = std::move(waiting_.front());
            waiting_.pop_front();
            busy_ = true;
            id = next_id_++;
            ctx_.start(id);
        }
        // Whatever the job throws goes to the request that is waiting for it; the worker lives on.
        // The job is marked done before its caller hears, so a client that polls /progress right
        // after its answer sees the worker idle.
        std::exception_ptr failure;
        try {
            e.work(ctx_);
        } catch (...) {
            failure = std::current_exception();
        }
        ctx_.finish();
        {
            std::lock_guard lock(mutex_);
            busy_ = false;
        }
        if (failure) e.done.set_exception(failure);
        else e.done.set_value();
    }
}

}  // namespace difu::server
