//! The single-threaded mio reactor: tokens, timers, the task and callback queue.
