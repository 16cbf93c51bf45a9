//! The signals uno-signal listens for.

use std::fmt;

/// A process signal that [`on_signal`](crate::on_signal) and
/// [`Shutdown`](crate::Shutdown) can listen for.
///
/// On Unix every variant is available. Elsewhere only [`Signal::Interrupt`] (Ctrl-C)
/// exists; asking for another signal there fails with
/// [`SignalError::Unsupported`](crate::SignalError::Unsupported).
///
/// # Examples
///
/// ```
/// use uno_signal::Signal;
///
/// assert_eq!(Signal::Interrupt.to_string(), "SIGINT");
/// assert_eq!(Signal::Interrupt.conventional_exit_code(), 130);
/// assert_eq!(Signal::Terminate.conventional_exit_code(), 143);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Signal {
    /// `SIGINT`: Ctrl-C in a terminal.
    Interrupt,
    /// `SIGTERM`: the polite "please stop" of `kill`, systemd, Docker and Kubernetes.
    Terminate,
    /// `SIGHUP`: the terminal went away; daemons often treat it as "reload".
    Hangup,
    /// `SIGQUIT`: Ctrl-\ in a terminal.
    Quit,
    /// `SIGUSR1`: left to the application.
    User1,
    /// `SIGUSR2`: left to the application.
    User2,
}

impl Signal {
    /// Every variant, in declaration order.
    pub const ALL: &'static [Signal] = &[
        Signal::Interrupt,
        Signal::Terminate,
        Signal::Hangup,
        Signal::Quit,
        Signal::User1,
        Signal::User2,
    ];

    /// The signal's conventional name, such as `"SIGINT"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
            Signal::Hangup => "SIGHUP",
            Signal::Quit => "SIGQUIT",
            Signal::User1 => "SIGUSR1",
            Signal::User2 => "SIGUSR2",
        }
    }

    /// The exit code shells report for a process that this signal ended: 128 plus the
    /// signal number (130 for `SIGINT`, 143 for `SIGTERM`).
    ///
    /// [`ForceExit::Conventional`](crate::ForceExit::Conventional) exits with it.
    #[must_use]
    pub fn conventional_exit_code(self) -> u8 {
        // Signal numbers are below 32 on every platform, so this never overflows.
        128 + self.number()
    }

    /// The platform's signal number.
    #[cfg(unix)]
    pub(crate) fn raw(self) -> i32 {
        use signal_hook::consts::signal as sig;
        match self {
            Signal::Interrupt => sig::SIGINT,
            Signal::Terminate => sig::SIGTERM,
            Signal::Hangup => sig::SIGHUP,
            Signal::Quit => sig::SIGQUIT,
            Signal::User1 => sig::SIGUSR1,
            Signal::User2 => sig::SIGUSR2,
        }
    }

    /// Maps a platform signal number back to the variant, if it is one of ours.
    #[cfg(unix)]
    pub(crate) fn from_raw(raw: i32) -> Option<Signal> {
        Signal::ALL
            .iter()
            .copied()
            .find(|signal| signal.raw() == raw)
    }

    #[cfg(unix)]
    fn number(self) -> u8 {
        u8::try_from(self.raw()).expect("signal numbers fit in a byte")
    }

    /// The POSIX numbers (Linux's for the user signals): only `Interrupt` can be used
    /// off Unix, and its number is the same everywhere.
    #[cfg(not(unix))]
    fn number(self) -> u8 {
        match self {
            Signal::Hangup => 1,
            Signal::Interrupt => 2,
            Signal::Quit => 3,
            Signal::User1 => 10,
            Signal::User2 => 12,
            Signal::Terminate => 15,
        }
    }

    /// The position of the variant in [`Signal::ALL`].
    #[cfg(unix)]
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Signal;

    #[cfg(unix)]
    #[test]
    fn index_matches_position_in_all() {
        for (position, &signal) in Signal::ALL.iter().enumerate() {
            assert_eq!(signal.index(), position);
        }
    }

    #[cfg(unix)]
    #[test]
    fn raw_numbers_round_trip() {
        for &signal in Signal::ALL {
            assert_eq!(Signal::from_raw(signal.raw()), Some(signal));
        }
        assert_eq!(Signal::from_raw(0), None);
    }
}
