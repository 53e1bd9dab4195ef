//! A side thread that does its work every few seconds until its handle is dropped: the DMARC
//! reporter and the spool report are two. Dropping the handle asks the thread to stop, wakes
//! it from its wait and joins it, so a last round (a final flush) happens before shutdown ends.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::Duration,
};

/// What the thread's body asks between rounds.
#[derive(Clone)]
pub struct Ticks {
    stop: Arc<AtomicBool>,
    every: Duration,
}

impl Ticks {
    /// Waits until the next round is due or a stop is asked; answers whether a stop was
    /// asked (the body then does its last round and returns).
    pub fn wait(&self) -> bool {
        if !self.stopping() {
            thread::park_timeout(self.every);
        }
        self.stopping()
    }

    /// Whether the handle was dropped.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// The running thread; dropping it stops and joins the thread.
pub struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Ticker {
    /// Starts thread `name` running `body`, which paces itself with [`Ticks::wait`].
    pub fn start(
        name: &str,
        every: Duration,
        body: impl FnOnce(Ticks) + Send + 'static,
    ) -> std::io::Result<Ticker> {
        let stop = Arc::new(AtomicBool::new(false));
        let ticks = Ticks {
            stop: stop.clone(),
            every,
        };
        let thread = thread::Builder::new()
            .name(name.to_string())
            .spawn(move || body(ticks))?;
        Ok(Ticker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn rounds_until_dropped_then_one_last_round() {
        let rounds = Arc::new(AtomicU32::new(0));
        let last = Arc::new(AtomicBool::new(false));
        let (r, l) = (rounds.clone(), last.clone());
        let ticker = Ticker::start("test-ticker", Duration::from_millis(5), move |ticks| {
            loop {
                let stopping = ticks.wait();
                r.fetch_add(1, Ordering::SeqCst);
                if stopping {
                    l.store(true, Ordering::SeqCst);
                    return;
                }
            }
        })
        .expect("thread starts");
        while rounds.load(Ordering::SeqCst) < 3 {
            thread::sleep(Duration::from_millis(1));
        }
        // A long period does not hold up the drop: the wait is woken.
        drop(ticker);
        assert!(
            last.load(Ordering::SeqCst),
            "the last round ran before drop returned"
        );
    }
}
