//! Background tasks of `serve`: periodic work beside the request path (maintenance now; the
//! outbox sender and retention next).
//!
//! A [`Task`] is a name, a period, a time limit and an async function. Each task runs in its own
//! loop: once at start, then once per period. A run that takes longer than its time limit is
//! cancelled (dropped, so an open transaction rolls back) and logged; a run that fails is logged
//! and the task runs again next period: one bad run never stops a task. [`Runner::shutdown`]
//! cancels the runs in flight and waits for the loops to end.
//!
//! To add a task, build it with [`Task::new`] and pass it to [`Runner::start`] in `serve`.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

type RunFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// A periodic task.
pub struct Task {
    name: &'static str,
    period: Duration,
    time_limit: Duration,
    run: Box<dyn Fn() -> RunFuture + Send + Sync>,
}

impl Task {
    /// A task that calls `run` every `period`, cancelling a run after `time_limit`.
    pub fn new<F, Fut>(name: &'static str, period: Duration, time_limit: Duration, run: F) -> Task
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        Task {
            name,
            period,
            time_limit,
            run: Box::new(move || Box::pin(run())),
        }
    }

    /// Runs the task once within its time limit.
    async fn run_once(&self) -> Outcome {
        match tokio::time::timeout(self.time_limit, (self.run)()).await {
            Ok(Ok(())) => Outcome::Done,
            Ok(Err(error)) => Outcome::Failed(error),
            Err(_) => Outcome::Overran,
        }
    }
}

/// How one run ended.
#[derive(Debug)]
enum Outcome {
    Done,
    Failed(anyhow::Error),
    /// Cancelled at its time limit.
    Overran,
}

/// The running tasks.
pub struct Runner {
    stop: watch::Sender<bool>,
    loops: Vec<JoinHandle<()>>,
}

impl Runner {
    /// Starts every task in its own loop.
    pub fn start(tasks: Vec<Task>) -> Runner {
        let (stop, stopped) = watch::channel(false);
        let loops = tasks
            .into_iter()
            .map(|task| tokio::spawn(task_loop(task, stopped.clone())))
            .collect();
        Runner { stop, loops }
    }

    /// Cancels the runs in flight and waits until every loop has ended.
    pub async fn shutdown(self) {
        // Fails only when every loop has already ended, which is what we wait for anyway.
        let _ = self.stop.send(true);
        for handle in self.loops {
            if let Err(error) = handle.await {
                tracing::error!(error = %error, "a background task loop panicked");
            }
        }
    }
}

async fn task_loop(task: Task, mut stopped: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(task.period);
    // After a slow run, wait a whole period again rather than catching up with a burst.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        let outcome = tokio::select! {
            outcome = task.run_once() => outcome,
            _ = stopped.wait_for(|stop| *stop) => return,
        };
        match outcome {
            Outcome::Done => tracing::debug!(task = task.name, "background task ran"),
            Outcome::Failed(error) => tracing::warn!(
                task = task.name,
                error = format!("{error:#}"),
                "background task failed; it runs again next period"
            ),
            Outcome::Overran => tracing::warn!(
                task = task.name,
                time_limit_ms = task.time_limit.as_millis(),
                "background task overran its time limit and was cancelled"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Real time with short periods: every wait is bounded by [`BOUND`], and no assertion
    //! depends on how fast the machine is.
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const BOUND: Duration = Duration::from_secs(10);
    const SHORT: Duration = Duration::from_millis(10);

    /// Counts how often it is dropped: a cancelled run drops its future.
    struct DropCounter(Arc<AtomicUsize>);

    impl Drop for DropCounter {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A task whose runs never finish on their own; counts starts and cancellations.
    fn hanging(time_limit: Duration) -> (Task, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let started = Arc::new(AtomicUsize::new(0));
        let cancelled = Arc::new(AtomicUsize::new(0));
        let (s, c) = (started.clone(), cancelled.clone());
        let task = Task::new("hanging", SHORT, time_limit, move || {
            s.fetch_add(1, Ordering::SeqCst);
            let guard = DropCounter(c.clone());
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok(())
            }
        });
        (task, started, cancelled)
    }

    async fn wait_until(what: &str, check: impl Fn() -> bool) {
        tokio::time::timeout(BOUND, async {
            while !check() {
                tokio::time::sleep(SHORT).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{what} did not happen within {BOUND:?}"));
    }

    #[tokio::test]
    async fn a_run_over_its_time_limit_is_cancelled() {
        let (task, started, cancelled) = hanging(Duration::from_millis(20));
        let outcome = tokio::time::timeout(BOUND, task.run_once()).await.unwrap();
        assert!(matches!(outcome, Outcome::Overran), "{outcome:?}");
        assert_eq!(started.load(Ordering::SeqCst), 1);
        assert_eq!(cancelled.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_runner_cancels_overrunning_runs_and_runs_the_task_again() {
        let (task, started, cancelled) = hanging(Duration::from_millis(20));
        let runner = Runner::start(vec![task]);
        wait_until("a second run after a cancelled one", || {
            cancelled.load(Ordering::SeqCst) >= 1 && started.load(Ordering::SeqCst) >= 2
        })
        .await;
        runner.shutdown().await;
    }

    #[tokio::test]
    async fn a_failing_task_runs_again_next_period() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = runs.clone();
        let task = Task::new("failing", SHORT, BOUND, move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                anyhow::bail!("the database is away")
            }
        });
        let failed = task.run_once().await;
        assert!(matches!(failed, Outcome::Failed(_)), "{failed:?}");
        let runner = Runner::start(vec![task]);
        wait_until("three more runs after failures", || {
            runs.load(Ordering::SeqCst) >= 4
        })
        .await;
        runner.shutdown().await;
    }

    #[tokio::test]
    async fn shutdown_cancels_the_run_in_flight_and_stops_the_task() {
        // The time limit is far away: only shutdown can end this run.
        let (task, started, cancelled) = hanging(Duration::from_secs(3600));
        let runner = Runner::start(vec![task]);
        wait_until("the first run", || started.load(Ordering::SeqCst) == 1).await;
        tokio::time::timeout(BOUND, runner.shutdown())
            .await
            .expect("shutdown ends a run that would hang for an hour");
        assert_eq!(cancelled.load(Ordering::SeqCst), 1);
        // Several periods later the task has not run again.
        tokio::time::sleep(SHORT * 5).await;
        assert_eq!(started.load(Ordering::SeqCst), 1);
    }
}
