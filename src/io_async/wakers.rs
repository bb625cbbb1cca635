//! Waking the tasks that wait on one connection.
//!
//! A connection's socket keeps one waker per direction: a task that polls a
//! write replaces the waker of the task that polled the write before it.
//! But a connection's reads write too (a Pong, a Close reply, what a writer
//! left queued), and its writes are what a reading task may wait for. Were
//! the socket given the callers' own wakers, the task reading and the task
//! writing would take each other's place, and the one taken out would wait
//! forever for bytes already written. So the socket gets one waker of the
//! connection's own, which wakes every task that waits: the one waiting for
//! a message and the one waiting to send (tokio-tungstenite's `WakerProxy`
//! does the same). A task woken for nothing polls again and waits again.

use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};

/// The tasks waiting on a connection: the one waiting for a message, and
/// those waiting to send (clones of a write half, each in its task).
#[derive(Debug, Default)]
pub(crate) struct TaskWakers {
    receiving: Mutex<Option<Waker>>,
    sending: Mutex<Vec<Waker>>,
}

/// Which of a connection's waiters a poll is for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Waiter {
    /// `poll_next`: waiting for a message.
    Receiving,
    /// The `Sink`'s polls: waiting to send.
    Sending,
}

impl TaskWakers {
    /// Records the waker of the task that polls as `waiter`, before the
    /// connection polls its socket with its own waker.
    pub(crate) fn register(self: &Arc<Self>, waiter: Waiter, cx: &Context<'_>) {
        // A waker is only ever replaced or added whole: a poisoned lock
        // holds valid ones.
        match waiter {
            Waiter::Receiving => {
                let mut slot = self.receiving.lock().unwrap_or_else(|p| p.into_inner());
                match &mut *slot {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    other => *other = Some(cx.waker().clone()),
                }
            }
            Waiter::Sending => {
                let mut waiting = self.sending.lock().unwrap_or_else(|p| p.into_inner());
                if !waiting.iter().any(|waker| waker.will_wake(cx.waker())) {
                    waiting.push(cx.waker().clone());
                }
            }
        }
    }

    /// Wakes every task waiting on the connection.
    fn wake_all(&self) {
        let receiving = self
            .receiving
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(waker) = receiving {
            waker.wake();
        }
        let sending = std::mem::take(&mut *self.sending.lock().unwrap_or_else(|p| p.into_inner()));
        for waker in sending {
            waker.wake();
        }
    }
}

impl Wake for TaskWakers {
    fn wake(self: Arc<Self>) {
        self.wake_all();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_all();
    }
}

/// The connection's own waker over `wakers`, given to the socket.
pub(crate) fn connection_waker(wakers: &Arc<TaskWakers>) -> Waker {
    Waker::from(Arc::clone(wakers))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A waker that counts its wakes.
    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn every_task_waiting_to_send_is_woken() {
        let writers: Vec<_> = (0..3)
            .map(|_| Arc::new(Counter(AtomicUsize::new(0))))
            .collect();
        let wakers = Arc::new(TaskWakers::default());
        for writer in &writers {
            let waker = Waker::from(Arc::clone(writer));
            // Polled twice: registered once.
            wakers.register(Waiter::Sending, &Context::from_waker(&waker));
            wakers.register(Waiter::Sending, &Context::from_waker(&waker));
        }
        connection_waker(&wakers).wake();
        for writer in &writers {
            assert_eq!(writer.0.load(Ordering::SeqCst), 1);
        }
    }

    #[test]
    fn the_connections_waker_wakes_the_reading_and_the_writing_task() {
        let reader = Arc::new(Counter(AtomicUsize::new(0)));
        let writer = Arc::new(Counter(AtomicUsize::new(0)));
        let wakers = Arc::new(TaskWakers::default());
        let reader_waker = Waker::from(Arc::clone(&reader));
        let writer_waker = Waker::from(Arc::clone(&writer));
        wakers.register(Waiter::Receiving, &Context::from_waker(&reader_waker));
        wakers.register(Waiter::Sending, &Context::from_waker(&writer_waker));
        connection_waker(&wakers).wake_by_ref();
        assert_eq!(reader.0.load(Ordering::SeqCst), 1);
        assert_eq!(writer.0.load(Ordering::SeqCst), 1);
        // Each is woken once per wait: a task polls again to wait again.
        connection_waker(&wakers).wake();
        assert_eq!(reader.0.load(Ordering::SeqCst), 1);
    }
}
