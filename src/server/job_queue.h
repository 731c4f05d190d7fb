// server/job_queue.h — generation jobs, one at a time: a bounded queue in front of one worker thread
// (there is one set of weights, and one generation already keeps every core busy). While a job runs,
// its progress is readable from any thread, and interrupt / skip set flags its progress callback sees.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "pipeline/pipeline.h"

namespace difu::server {

// What GET /sdapi/v1/progress shows (webui's shared.state).
struct JobProgress {
    bool running = false;
    uint64_t job_id = 0;
    int job_no = 0, job_count = 0;  // the batch being made (webui: n_iter) and their number
    int sampling_step = 0, sampling_steps = 0;
    std::string phase;              // "text", "sampling", "decode"
    bool interrupted = false, skipped = false;
    double elapsed_s = 0;
    std::string job_timestamp;      // webui's "%Y%m%d%H%M%S" of the job's start
    std::string current_image;      // the latest live preview, a PNG in base64 ("" = none yet)
};

// The running job's side: progress to report, and the requests to stop.
class JobContext {
public:
    // For DiffusionPipeline::generate: records the progress; false (cancel) once interrupt or skip was asked.
    bool report(const ProgressInfo& p);
    void begin_batch(int batch, int batches);
    void set_preview(std::string png_base64);  // the latest live preview
    bool interrupted() const;
    // True once per skip(): the batch that saw it stops, the next one starts (begin_batch clears it too).
    bool take_skip();
    uint64_t id() const;
    std::string job_timestamp() const;

private:
    friend class JobQueue;
    void start(uint64_t id);
    void finish();
    void interrupt();
    void skip();
    JobProgress snapshot() const;

    mutable std::mutex mutex_;
    JobProgress p_;
    std::chrono::steady_clock::time_point started_;
};

class JobQueue {
public:
    using Work = std::function<void(JobContext&)>;

    explicit JobQueue(size_t capacity);  // capacity >= 1: a job waits in the queue before the worker takes it
    ~JobQueue();

    // Queues `work`; the future is ready when it has run (and rethrows what it threw). nullopt when
    // `capacity` jobs are already waiting (the running one not counted).
    std::optional<std::future<void>> try_submit(Work work);
    bool full() const;
    bool accepting() const;  // false once shutdown() began

    void interrupt();  // the running job stops after its current step (webui: /interrupt)
    void skip();       // the running job's current batch stops, the next one starts (webui: /skip)
    // Interrupts the running job, fails the waiting ones ("shutting down") and joins the worker.
    void shutdown();

    JobProgress progress() const;
    size_t waiting() const;
    bool busy() const;
    size_t capacity() const { return capacity_; }

private:
    struct Entry {
        Work work;
        std::promise<void> done;
    };
    void worker_loop();

    const size_t capacity_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Entry> waiting_;
    bool busy_ = false, stopping_ = false;
    uint64_t next_id_ = 1;
    JobContext ctx_;
    std::thread worker_;
};

}  // namespace difu::server
