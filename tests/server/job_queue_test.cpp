// tests/server/job_queue_test.cpp — the queue with stand-in jobs (no model): one at a time, bounded,
// progress visible while a job runs, interrupt and skip seen by the job, and a failing job that
// leaves the worker alive.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "sampling/denoiser.h"
#include "server/api_error.h"
#include "server/job_queue.h"

using namespace difu;
using namespace difu::server;

namespace {

// A job that reports steps until told to stop or `release` is set.
JobQueue::Work stepping_job(std::atomic<bool>& release, std::atomic<int>& steps_seen) {
    return [&](JobContext& ctx) {
        ctx.begin_batch(0, 1);
        for (int i = 1; !release; ++i) {
            steps_seen = i;
            if (!ctx.report(ProgressInfo{"sampling", i, 1000, 0, 1})) throw Cancelled{};
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    };
}

template <typename Probe>
bool eventually(Probe p) {
    for (int i = 0; i < 5000; ++i) {
        if (p()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
}

}  // namespace

TEST(ServerJobQueue, RunsJobsInOrderOneAtATime) {
    JobQueue q(8);
    std::atomic<int> running{0}, max_running{0};
    std::vector<int> order;
    std::mutex m;
    std::vector<std::future<void>> done;
    for (int i = 0; i < 5; ++i)
        done.push_back(*q.try_submit([&, i](JobContext&) {
            max_running = std::max(max_running.load(), ++running);
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            { std::lock_guard lock(m); order.push_back(i); }
            --running;
        }));
    for (auto& f : done) f.get();
    EXPECT_EQ(max_running, 1);
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(ServerJobQueue, RefusesPastCapacityAndShowsProgressWhileAJobRuns) {
    JobQueue q(1);
    std::atomic<bool> release{false};
    std::atomic<int> steps{0};
    auto first = q.try_submit(stepping_job(release, steps));
    ASSERT_TRUE(first);
    ASSERT_TRUE(eventually([&] { return q.busy() && q.progress().sampling_step > 3; }));
    const JobProgress p = q.progress();
    EXPECT_TRUE(p.running);
    EXPECT_EQ(p.sampling_steps, 1000);
    EXPECT_EQ(p.phase, "sampling");
    auto second = q.try_submit([](JobContext&) {});  // waits: the one place in the queue
    ASSERT_TRUE(second);
    EXPECT_EQ(q.waiting(), 1u);
    EXPECT_TRUE(q.full());
    EXPECT_FALSE(q.try_submit([](JobContext&) {}));
    release = true;
    first->get();
    second->get();
    EXPECT_FALSE(q.progress().running);
}

TEST(ServerJobQueue, InterruptStopsTheRunningJobOnlyAndIsForgottenByTheNext) {
    JobQueue q(2);
    std::atomic<bool> never{false};
    std::atomic<int> steps{0};
    auto job = q.try_submit(stepping_job(never, steps));
    ASSERT_TRUE(eventually([&] { return steps > 2; }));
    q.interrupt();
    EXPECT_THROW(job->get(), Cancelled);
    bool next_interrupted = true;
    q.try_submit([&](JobContext& ctx) { next_interrupted = ctx.interrupted(); })->get();
    EXPECT_FALSE(next_interrupted);
}

TEST(ServerJobQueue, SkipIsSeenOnceByTheRunningJob) {
    JobQueue q(1);
    std::atomic<int> cancelled_batches{0}, finished_batches{0};
    std::atomic<bool> in_first{false};
    auto job = q.try_submit([&](JobContext& ctx) {
        for (int b = 0; b < 2; ++b) {
            ctx.begin_batch(b, 2);
            for (int i = 1; i <= 200; ++i) {
                if (b == 0) in_first = true;
                if (!ctx.report(ProgressInfo{"sampling", i, 200, b, 2})) {
                    EXPECT_TRUE(ctx.take_skip());
                    EXPECT_FALSE(ctx.interrupted());
                    ++cancelled_batches;
                    break;
                }
                if (i == 200) ++finished_batches;
                std::this_thread::sleep_for(std::chrono::microseconds(b == 0 ? 2000 : 10));
            }
        }
    });
    ASSERT_TRUE(eventually([&] { return in_first.load(); }));
    q.skip();
    job->get();
    EXPECT_EQ(cancelled_batches, 1);
    EXPECT_EQ(finished_batches, 1);
}

TEST(ServerJobQueue, AFailingJobReachesItsCallerAndTheWorkerGoesOn) {
    JobQueue q(2);
    auto bad = q.try_submit([](JobContext&) { throw Error("boom"); });
    EXPECT_THROW(bad->get(), Error);
    bool ran = false;
    q.try_submit([&](JobContext&) { ran = true; })->get();
    EXPECT_TRUE(ran);
}

TEST(ServerJobQueue, ShutdownFailsWaitingJobsWith503AndStopsTheRunningOne) {
    std::atomic<bool> never{false};
    std::atomic<int> steps{0};
    std::optional<std::future<void>> running, waiting;
    {
        JobQueue q(1);
        running = q.try_submit(stepping_job(never, steps));
        ASSERT_TRUE(eventually([&] { return steps > 1; }));
        waiting = q.try_submit([](JobContext&) {});
        q.shutdown();
        EXPECT_FALSE(q.accepting());
        EXPECT_FALSE(q.try_submit([](JobContext&) {}));
    }
    EXPECT_THROW(running->get(), Cancelled);
    try {
        waiting->get();
        ADD_FAILURE() << "a waiting job ran after shutdown";
    } catch (const ApiError& e) {
        EXPECT_EQ(e.status(), 503);
    }
}
